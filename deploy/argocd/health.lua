-- Argo CD health check for privatelink.alicloud.dev/VpcEndpointService and
-- privatelink.alicloud.dev/VpcEndpoint: both kinds carry the same conditions
-- (Ready, Synced, Reconciling, Stalled; kstatus style), so one script serves both.
--
-- Install it under the argocd-cm keys
--   resource.customizations.health.privatelink.alicloud.dev_VpcEndpointService
--   resource.customizations.health.privatelink.alicloud.dev_VpcEndpoint
-- (see argocd-cm-patch.yaml next to this file). Tested by
-- tests/helm/argocd_health_test.go with the cases in health_test.yaml, run in
-- gopher-lua (Lua 5.1), the interpreter Argo CD embeds.
--
--   no status / no conditions                 -> Progressing
--   status.observedGeneration < generation    -> Progressing (spec change not seen yet)
--   Ready=True                                -> Healthy
--   Stalled=True                              -> Degraded (terminal: the spec must change,
--                                                or for a VpcEndpoint e.g. Rejected, ServiceGone)
--   Ready=False, reason not transient         -> Degraded (e.g. an Alibaba error code)
--   anything else (Creating, Deleting, AwaitingApproval, ...) -> Progressing

-- Ready reasons that mean "wait", not "broken". Alibaba throttling and
-- serialisation codes are retried by the operator with backoff.
local transient = {
  Creating = true,
  Pending = true,
  Deleting = true,
  Progressing = true,
  Reconciling = true,
  Updating = true,
  ServiceUnavailable = true,
  EndpointServiceLocked = true,
  EndpointServiceOperationDenied = true,
  ConcurrentCallNotSupported = true,
  -- VpcEndpoint: waiting for the service owner to accept the connection, for
  -- the connection to settle, or for the referenced VpcEndpointService.
  AwaitingApproval = true,
  Connecting = true,
  Disconnecting = true,
  Confirming = true,
  Recreating = true,
  WaitingForService = true,
}

local function isTransient(reason)
  if reason == nil or reason == "" then
    return true
  end
  if transient[reason] then
    return true
  end
  -- Throttling, Throttling.User, Throttling_Api, Throttled, ...
  return string.sub(reason, 1, 7) == "Throttl"
end

local function describe(cond, fallback)
  local msg = cond.message
  if msg == nil or msg == "" then
    msg = fallback
  end
  if cond.reason ~= nil and cond.reason ~= "" then
    return cond.reason .. ": " .. msg
  end
  return msg
end

local hs = { status = "Progressing", message = "Waiting for the operator to reconcile" }

if obj.status == nil or obj.status.conditions == nil then
  return hs
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and observed ~= nil and observed < generation then
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

local ready = nil
local stalled = nil
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then
    ready = c
  elseif c.type == "Stalled" then
    stalled = c
  end
end

-- A Ready condition written for an older generation is stale.
if ready ~= nil and generation ~= nil and ready.observedGeneration ~= nil
    and ready.observedGeneration < generation then
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "Ready")
  return hs
end

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled, "Stalled")
  return hs
end

if ready ~= nil and ready.status == "False" and not isTransient(ready.reason) then
  hs.status = "Degraded"
  hs.message = describe(ready, "Not ready")
  return hs
end

if ready ~= nil then
  hs.message = describe(ready, "Not ready yet")
end
return hs
