"""The official Python SDK (alibabacloud-privatelink20200415 4.0.9) against privatelink-sim: provider side."""

import uuid

import pytest
from alibabacloud_privatelink20200415 import models as m
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException, ThrottlingException

from conftest import DEFAULT_ACCOUNT, OTHER_ACCOUNT
from sdkutil import REGION, SIGNATURES, client_error, create_req, get, poll, refused, wait_gone, wait_status


@pytest.mark.parametrize(**SIGNATURES)
def test_full_lifecycle(sim, runtime, v2):
    c = sim.client(v2=v2)
    r = c.create_vpc_endpoint_service_with_options(create_req(client_token=str(uuid.uuid4())), runtime)
    assert r.status_code == 200
    b = r.body
    sid = b.service_id
    assert sid.startswith("epsrv-") and len(sid) == 26
    assert b.service_name == f"com.aliyuncs.privatelink.{REGION}.{sid}"
    assert b.service_domain == f"{sid}.{REGION}.privatelink.aliyuncs.com"
    assert b.service_status == "Creating"
    assert len(b.request_id) == 36 and b.request_id == b.request_id.upper()
    assert b.auto_accept_enabled is True

    assert wait_status(c, sid, runtime, "Active")[0] == "Creating"
    g = get(c, sid, runtime)
    assert (g.service_resource_type, g.connect_bandwidth, g.zones) == ("nlb", 0, ["cn-hangzhou-h"])
    assert g.service_type == "Interface" and g.payer == "Endpoint"

    c.update_vpc_endpoint_service_attribute_with_options(m.UpdateVpcEndpointServiceAttributeRequest(
        region_id=REGION, service_id=sid, service_description="changed", auto_accept_enabled=False), runtime)
    assert get(c, sid, runtime).service_status == "Pending"
    wait_status(c, sid, runtime, "Active")
    g = get(c, sid, runtime)
    assert (g.service_description, g.auto_accept_enabled) == ("changed", False)

    c.attach_resource_to_vpc_endpoint_service_with_options(m.AttachResourceToVpcEndpointServiceRequest(
        region_id=REGION, service_id=sid, resource_id="nlb-sim-002", resource_type="nlb",
        zone_id="cn-hangzhou-i"), runtime)
    wait_status(c, sid, runtime, "Active")
    res = c.list_vpc_endpoint_service_resources_with_options(m.ListVpcEndpointServiceResourcesRequest(
        region_id=REGION, service_id=sid), runtime).body.resources
    assert sorted(x.resource_id for x in res) == ["nlb-sim-001", "nlb-sim-002"]
    c.detach_resource_from_vpc_endpoint_service_with_options(m.DetachResourceFromVpcEndpointServiceRequest(
        region_id=REGION, service_id=sid, resource_id="nlb-sim-002", resource_type="nlb",
        zone_id="cn-hangzhou-i"), runtime)
    wait_status(c, sid, runtime, "Active")
    res = c.list_vpc_endpoint_service_resources_with_options(m.ListVpcEndpointServiceResourcesRequest(
        region_id=REGION, service_id=sid), runtime).body.resources
    assert [x.resource_id for x in res] == ["nlb-sim-001"]

    for uid in (OTHER_ACCOUNT, "3234567890123456"):
        c.add_user_to_vpc_endpoint_service_with_options(m.AddUserToVpcEndpointServiceRequest(
            region_id=REGION, service_id=sid, user_id=int(uid)), runtime)
    c.remove_user_from_vpc_endpoint_service_with_options(m.RemoveUserFromVpcEndpointServiceRequest(
        region_id=REGION, service_id=sid, user_id=3234567890123456), runtime)
    users = c.list_vpc_endpoint_service_users_with_options(m.ListVpcEndpointServiceUsersRequest(
        region_id=REGION, service_id=sid), runtime).body
    assert [u.user_id for u in users.users] == [int(OTHER_ACCOUNT)]
    assert users.total_count == "1"

    c.tag_resources_with_options(m.TagResourcesRequest(
        region_id=REGION, resource_type="vpcendpointservice", resource_id=[sid],
        tag=[m.TagResourcesRequestTag(key="team", value="net"), m.TagResourcesRequestTag(key="tmp", value="x")]),
        runtime)
    c.untag_resources_with_options(m.UntagResourcesRequest(
        region_id=REGION, resource_type="vpcendpointservice", resource_id=[sid], tag_key=["tmp"]), runtime)
    rows = c.list_tag_resources_with_options(m.ListTagResourcesRequest(
        region_id=REGION, resource_type="vpcendpointservice", resource_id=[sid]), runtime).body.tag_resources
    assert sorted((t.tag_key, t.tag_value) for t in rows) == [("env", "dev"), ("team", "net")]

    assert get(c, sid, runtime).resource_group_id == "rg-sim-default"
    move = lambda rg, rtype="VpcEndpointService": c.change_resource_group_with_options(  # noqa: E731
        m.ChangeResourceGroupRequest(resource_group_id=rg, resource_id=sid, resource_type=rtype), runtime)
    refused(lambda: move("rg-sdk-test"), "InvalidResourceGroup")
    refused(lambda: move("rg-sim-locked"), "NoPermission.ChangeResourceGroup")
    # ResourceType defaults to VpcEndpoint: a service id is no endpoint.
    refused(lambda: move("rg-sim-001", None), "ResourceNotFound")
    move("rg-sim-001")
    assert get(c, sid, runtime).resource_group_id == "rg-sim-001"

    # Paging with a tag filter across more than one page.
    for i in range(4):
        c.create_vpc_endpoint_service_with_options(create_req(
            tag=[m.CreateVpcEndpointServiceRequestTag(key="team", value="net")]), runtime)
    c.create_vpc_endpoint_service_with_options(create_req(
        tag=[m.CreateVpcEndpointServiceRequestTag(key="team", value="other")]), runtime)
    ids, token, pages = [], None, 0
    while True:
        body = c.list_vpc_endpoint_services_with_options(m.ListVpcEndpointServicesRequest(
            region_id=REGION, max_results=2, next_token=token,
            tag=[m.ListVpcEndpointServicesRequestTag(key="team", value="net")]), runtime).body
        assert body.total_count == 5 and isinstance(body.total_count, int)
        assert body.max_results == 2
        ids += [s.service_id for s in body.services]
        pages += 1
        token = body.next_token
        if not token:
            break
    assert pages == 3 and len(set(ids)) == 5 and sid in ids
    listed = next(s for s in c.list_vpc_endpoint_services_with_options(m.ListVpcEndpointServicesRequest(
        region_id=REGION, service_id=sid), runtime).body.services)
    assert {t.key for t in listed.tags} == {"env", "team"}

    # Strict delete: every backend resource must be detached first (zone-scoped for nlb: ZoneId required).
    delete = lambda: c.delete_vpc_endpoint_service_with_options(  # noqa: E731
        m.DeleteVpcEndpointServiceRequest(region_id=REGION, service_id=sid), runtime)
    refused(delete, "EndpointServiceDependenceViolation")
    detach = lambda **kw: c.detach_resource_from_vpc_endpoint_service_with_options(  # noqa: E731
        m.DetachResourceFromVpcEndpointServiceRequest(region_id=REGION, service_id=sid, resource_id="nlb-sim-001",
                                                      resource_type="nlb", **kw), runtime)
    refused(detach, "MissingParam.ZoneId")
    refused(lambda: detach(zone_id="cn-hangzhou-i"), "EndpointServiceResourceNotFound")
    detach(zone_id="cn-hangzhou-h")
    assert get(c, sid, runtime).service_status == "Pending"
    refused(delete, "EndpointServiceOperationDenied")
    wait_status(c, sid, runtime, "Active")
    g = get(c, sid, runtime)
    assert g.zones == [] and c.list_vpc_endpoint_service_resources_with_options(
        m.ListVpcEndpointServiceResourcesRequest(region_id=REGION, service_id=sid), runtime).body.resources == []
    delete()
    assert get(c, sid, runtime).service_status == "Deleting"
    assert wait_gone(c, sid, runtime) == ["Deleting", "EndpointServiceNotFound"]


@pytest.mark.parametrize(**SIGNATURES)
def test_sts_credentials(sim, runtime, v2):
    c = sim.client("sts", v2=v2)
    sid = c.create_vpc_endpoint_service_with_options(create_req(), runtime).body.service_id
    # STS key maps to the default account.
    assert get(sim.client(), sid, runtime).service_id == sid
    e = client_error(lambda: get(sim.client("sts", v2=v2, token="wrong-token"), sid, runtime))
    assert e.code == "InvalidSecurityToken.MismatchWithAccessKey"


@pytest.mark.parametrize(**SIGNATURES)
def test_authentication_failures(sim, runtime, v2):
    req = m.ListVpcEndpointServicesRequest(region_id=REGION)
    e = client_error(lambda: sim.client(v2=v2, secret="nope").list_vpc_endpoint_services_with_options(req, runtime))
    assert e.code == "SignatureDoesNotMatch" and e.status_code == 400
    e = client_error(lambda: sim.client("inactive", v2=v2).list_vpc_endpoint_services_with_options(req, runtime))
    assert e.code == "InvalidAccessKeyId.Inactive"
    e = client_error(lambda: sim.client("unopened", v2=v2).list_vpc_endpoint_services_with_options(req, runtime))
    assert e.code == "NeedOpenProduct"
    j = sim.admin("GET", "journal")
    assert j["counts"]["ListVpcEndpointServices"]["SignatureDoesNotMatch"] == 1
    bad = [x for x in j["calls"] if x["code"] == "SignatureDoesNotMatch"]
    assert bad[0]["account"] is None


def test_throttling_and_server_errors(sim, runtime):
    c = sim.client()
    sim.admin("POST", "faults", {"action": "ListVpcEndpointServices", "kind": "throttle",
                                 "retryAfterMs": 1500, "count": 1})
    with pytest.raises(ThrottlingException) as ei:
        c.list_vpc_endpoint_services_with_options(m.ListVpcEndpointServicesRequest(region_id=REGION), runtime)
    assert ei.value.code == "Throttling.User" and ei.value.retry_after == 1500
    # count=1: the next call goes through.
    c.list_vpc_endpoint_services_with_options(m.ListVpcEndpointServicesRequest(region_id=REGION), runtime)

    sim.admin("POST", "faults", {"account": DEFAULT_ACCOUNT, "action": "CreateVpcEndpointService",
                                 "kind": "error", "count": 1})
    with pytest.raises(ServerException) as ei:
        c.create_vpc_endpoint_service_with_options(create_req(), runtime)
    assert (ei.value.code, ei.value.status_code) == ("ServiceUnavailable", 503)
    # The fault is per account: another account is unaffected.
    sim.admin("POST", "faults", {"account": DEFAULT_ACCOUNT, "kind": "error", "code": "InternalError"})
    sim.client("other").create_vpc_endpoint_service_with_options(create_req(), runtime)
    with pytest.raises(ServerException) as ei:
        c.create_vpc_endpoint_service_with_options(create_req(), runtime)
    assert (ei.value.code, ei.value.status_code) == ("InternalError", 500)
    sim.admin("DELETE", "faults")
    assert len(sim.admin("GET", "services")["services"]) == 1

    # Per-account flow control: no x-acs-retry-after, so the SDK raises a plain ClientException.
    sim.admin("PUT", "config", {"qpsLimit": 2})
    codes = []
    for _ in range(6):
        try:
            c.list_vpc_endpoint_services_with_options(m.ListVpcEndpointServicesRequest(region_id=REGION), runtime)
            codes.append("OK")
        except ClientException as e:
            codes.append(e.code)
    assert "Throttling.User" in codes and codes[0] == "OK"


def test_client_token_idempotency(sim, runtime):
    c = sim.client()
    tok = str(uuid.uuid4())
    a = c.create_vpc_endpoint_service_with_options(create_req(client_token=tok), runtime).body
    b = c.create_vpc_endpoint_service_with_options(create_req(client_token=tok), runtime).body
    assert a.service_id == b.service_id and a.request_id != b.request_id
    assert len(sim.admin("GET", "services")["services"]) == 1
    e = client_error(lambda: c.create_vpc_endpoint_service_with_options(
        create_req(client_token=tok, service_description="different"), runtime))
    assert e.code == "IdempotenceSignatureMismatch"
    # The same token under V1 signing is the same request.
    d = sim.client(v2=True).create_vpc_endpoint_service_with_options(create_req(client_token=tok), runtime).body
    assert d.service_id == a.service_id


def test_lost_response_then_retry_with_same_token(sim, runtime):
    c = sim.client()
    tok = str(uuid.uuid4())
    sim.admin("POST", "faults", {"action": "CreateVpcEndpointService", "kind": "lose_response", "count": 1})
    with pytest.raises(Exception) as ei:
        c.create_vpc_endpoint_service_with_options(create_req(client_token=tok), runtime)
    assert not isinstance(ei.value, ClientException)
    created = sim.admin("GET", "services")["services"]
    assert len(created) == 1, "the operation was committed"
    again = c.create_vpc_endpoint_service_with_options(create_req(client_token=tok), runtime).body
    assert again.service_id == created[0]["serviceId"]
    assert len(sim.admin("GET", "services")["services"]) == 1


def test_dry_run_and_validation(sim, runtime):
    c = sim.client()
    create = lambda **kw: c.create_vpc_endpoint_service_with_options(create_req(**kw), runtime)  # noqa: E731
    assert client_error(lambda: create(dry_run=True)).code == "DryRunOperation"
    assert sim.admin("GET", "services")["services"] == []
    cases = [
        (dict(resource=[m.CreateVpcEndpointServiceRequestResource(resource_type="nlb", resource_id="nlb-missing",
                                                                 zone_id="cn-hangzhou-h")]), "LoadBalancerNotFound"),
        (dict(resource=[m.CreateVpcEndpointServiceRequestResource(resource_type="slb",
                                                                 resource_id="lb-sim-slb-001")]), "Mismatch.ResourceType"),
        (dict(service_resource_type="slb",
              resource=[m.CreateVpcEndpointServiceRequestResource(resource_type="slb",
                                                                 resource_id="lb-sim-noplink")]),
         "LoadBalancerNotSupportPrivateLink"),
        (dict(tag=[m.CreateVpcEndpointServiceRequestTag(key="aliyun:reserved", value="x")]),
         "IllegalParamFormat.Tag.1.Key"),
        (dict(payer="Nobody"), "IllegalParamFormat.Payer"),
        (dict(service_resource_type="slb", resource=[], address_ip_version="DualStack"),
         "OperationDenied.ResourceTypeNotSupportDualStack"),
        (dict(region_id=None), "MissingParam.RegionId"),
    ]
    for kw, code in cases:
        e = client_error(lambda: create(**kw))
        assert (e.code, e.status_code) == (code, 400), kw
    e = client_error(lambda: sim.client("other").create_vpc_endpoint_service_with_options(
        create_req(payer="EndpointService"), runtime))
    assert e.code == "EndpointServicePayerForbidden"
    sim.admin("PUT", "config", {"serviceQuota": 1})
    create()
    assert client_error(create).code == "QuotaMisMatched"


def test_account_isolation(sim, runtime):
    mine = sim.client().create_vpc_endpoint_service_with_options(create_req(), runtime).body.service_id
    other = sim.client("other")
    e = client_error(lambda: get(other, mine, runtime))
    assert e.code == "EndpointServiceNotFound"
    assert other.list_vpc_endpoint_services_with_options(
        m.ListVpcEndpointServicesRequest(region_id=REGION), runtime).body.total_count == 0
    e = client_error(lambda: other.delete_vpc_endpoint_service_with_options(
        m.DeleteVpcEndpointServiceRequest(region_id=REGION, service_id=mine), runtime))
    assert e.code == "EndpointServiceNotFound"


def test_mutations_refused_while_not_active(sim, runtime):
    sim.admin("PUT", "config", {"createSeconds": 30})
    c = sim.client()

    def writes(sid):
        """Each write on sid, as a thunk."""
        return {
            "UpdateVpcEndpointServiceAttribute": lambda: c.update_vpc_endpoint_service_attribute_with_options(
                m.UpdateVpcEndpointServiceAttributeRequest(region_id=REGION, service_id=sid,
                                                           service_description="x"), runtime),
            "DeleteVpcEndpointService": lambda: c.delete_vpc_endpoint_service_with_options(
                m.DeleteVpcEndpointServiceRequest(region_id=REGION, service_id=sid), runtime),
            "AttachResourceToVpcEndpointService": lambda: c.attach_resource_to_vpc_endpoint_service_with_options(
                m.AttachResourceToVpcEndpointServiceRequest(region_id=REGION, service_id=sid, resource_type="nlb",
                                                            resource_id="nlb-sim-003", zone_id="cn-hangzhou-i"),
                runtime),
            "DetachResourceFromVpcEndpointService":
                lambda: c.detach_resource_from_vpc_endpoint_service_with_options(
                    m.DetachResourceFromVpcEndpointServiceRequest(region_id=REGION, service_id=sid,
                                                                  resource_type="nlb", resource_id="nlb-sim-001",
                                                                  zone_id="cn-hangzhou-h"), runtime),
            "UpdateVpcEndpointServiceResourceAttribute":
                lambda: c.update_vpc_endpoint_service_resource_attribute_with_options(
                    m.UpdateVpcEndpointServiceResourceAttributeRequest(region_id=REGION, service_id=sid,
                                                                       resource_id="nlb-sim-001",
                                                                       zone_id="cn-hangzhou-h",
                                                                       auto_allocated_enabled=True), runtime),
            "AddUserToVpcEndpointService": lambda: c.add_user_to_vpc_endpoint_service_with_options(
                m.AddUserToVpcEndpointServiceRequest(region_id=REGION, service_id=sid,
                                                     user_id=int(OTHER_ACCOUNT)), runtime),
            "RemoveUserFromVpcEndpointService": lambda: c.remove_user_from_vpc_endpoint_service_with_options(
                m.RemoveUserFromVpcEndpointServiceRequest(region_id=REGION, service_id=sid,
                                                          user_id=int(OTHER_ACCOUNT)), runtime),
        }

    def codes(sid):
        return {action: client_error(fn).code for action, fn in writes(sid).items()}

    denied = "EndpointServiceOperationDenied"
    # Creating: every write is denied.
    creating = c.create_vpc_endpoint_service_with_options(create_req(), runtime).body.service_id
    assert codes(creating) == dict.fromkeys(writes(creating), denied)
    # FinancialLocked (Active, but overdue): every write is denied too.
    sim.admin("POST", f"services/{creating}/status",
              {"serviceStatus": "Active", "serviceBusinessStatus": "FinancialLocked"})
    assert get(c, creating, runtime).service_business_status == "FinancialLocked"
    assert codes(creating) == dict.fromkeys(writes(creating), denied)

    # Pending for a resource task (attach/detach): the service is locked, a transient state the client
    # may wait out: Update and UpdateVpcEndpointServiceResourceAttribute say EndpointServiceLocked.
    sim.admin("PUT", "config", {"createSeconds": 0, "updateSeconds": 30})
    busy = c.create_vpc_endpoint_service_with_options(create_req(), runtime).body.service_id
    assert get(c, busy, runtime).service_status == "Active"
    writes(busy)["AttachResourceToVpcEndpointService"]()
    assert get(c, busy, runtime).service_status == "Pending"
    locked = {"UpdateVpcEndpointServiceAttribute", "UpdateVpcEndpointServiceResourceAttribute"}
    assert codes(busy) == {a: "EndpointServiceLocked" if a in locked else denied for a in writes(busy)}

    # Pending for an attribute change: not a resource task, so plain EndpointServiceOperationDenied.
    upd = c.create_vpc_endpoint_service_with_options(create_req(), runtime).body.service_id
    writes(upd)["UpdateVpcEndpointServiceAttribute"]()
    assert get(c, upd, runtime).service_status == "Pending"
    assert codes(upd) == dict.fromkeys(writes(upd), denied)
    assert all(e.status_code == 400 for e in [client_error(fn) for fn in writes(upd).values()])


def test_connection_dependence(sim, runtime):
    sim.admin("PUT", "config", {"createSeconds": 0})
    c = sim.client()
    sid = c.create_vpc_endpoint_service_with_options(create_req(), runtime).body.service_id
    # An admin-made connection (no real endpoint behind it) counts for every zone of the service.
    ep = sim.admin("POST", "connections", {"serviceId": sid, "endpointOwnerId": int(OTHER_ACCOUNT)})["endpointId"]
    delete = lambda: c.delete_vpc_endpoint_service_with_options(  # noqa: E731
        m.DeleteVpcEndpointServiceRequest(region_id=REGION, service_id=sid), runtime)
    detach = lambda: c.detach_resource_from_vpc_endpoint_service_with_options(  # noqa: E731
        m.DetachResourceFromVpcEndpointServiceRequest(region_id=REGION, service_id=sid, resource_id="nlb-sim-001",
                                                      resource_type="nlb", zone_id="cn-hangzhou-h"), runtime)
    refused(delete, "EndpointServiceConnectionDependence")
    refused(detach, "EndpointServiceConnectionDependence")
    conns = c.list_vpc_endpoint_connections_with_options(m.ListVpcEndpointConnectionsRequest(
        region_id=REGION, service_id=sid), runtime).body
    assert [(x.endpoint_id, x.connection_status, x.endpoint_owner_id) for x in conns.connections] == [
        (ep, "Connected", int(OTHER_ACCOUNT))]
    assert conns.total_count == "1"
    update = lambda **kw: c.update_vpc_endpoint_connection_attribute_with_options(  # noqa: E731
        m.UpdateVpcEndpointConnectionAttributeRequest(region_id=REGION, service_id=sid, endpoint_id=ep, **kw),
        runtime)
    # NLB services have no per-connection bandwidth; the traffic control mode can change.
    refused(lambda: update(bandwidth=2048), "UpdateBandWidthUnSupported")
    update(traffic_control_mode="BandwidthLimit")
    c.disable_vpc_endpoint_connection_with_options(m.DisableVpcEndpointConnectionRequest(
        region_id=REGION, service_id=sid, endpoint_id=ep), runtime)

    def connection():
        return c.list_vpc_endpoint_connections_with_options(m.ListVpcEndpointConnectionsRequest(
            region_id=REGION, endpoint_id=ep), runtime).body.connections[0]

    status = lambda: connection().connection_status  # noqa: E731
    # Busy while in transition.
    refused(lambda: update(traffic_control_mode="Scalability"), "EndpointConnectionOperationDenied")
    assert poll(status, "Disconnected") == ["Disconnecting", "Disconnected"]
    x = connection()
    assert (x.traffic_control_mode, x.bandwidth) == ("BandwidthLimit", 3072)
    c.enable_vpc_endpoint_connection_with_options(m.EnableVpcEndpointConnectionRequest(
        region_id=REGION, service_id=sid, endpoint_id=ep), runtime)
    assert poll(status, "Connected") == ["Connecting", "Connected"]
    refused(delete, "EndpointServiceConnectionDependence")
    c.disable_vpc_endpoint_connection_with_options(m.DisableVpcEndpointConnectionRequest(
        region_id=REGION, service_id=sid, endpoint_id=ep), runtime)
    assert poll(status, "Disconnected") == ["Disconnecting", "Disconnected"]
    # Disconnected: no connection dependence left, but the backend is still attached.
    refused(delete, "EndpointServiceDependenceViolation")
    detach()
    wait_status(c, sid, runtime, "Active")
    delete()
    assert get(c, sid, runtime).service_status == "Deleting"
    j = sim.admin("GET", "journal")
    assert j["counts"]["DeleteVpcEndpointService"] == {
        "EndpointServiceConnectionDependence": 2, "EndpointServiceDependenceViolation": 1, "OK": 1}
    assert j["counts"]["DetachResourceFromVpcEndpointService"] == {"EndpointServiceConnectionDependence": 1, "OK": 1}
    assert {x["serviceId"] for x in j["calls"] if x["action"] == "DeleteVpcEndpointService"} == {sid}


def test_connection_bandwidth_on_clb_service(sim, runtime):
    sim.admin("PUT", "config", {"createSeconds": 0})
    c = sim.client()
    sid = c.create_vpc_endpoint_service_with_options(create_req(
        service_resource_type="slb",
        resource=[m.CreateVpcEndpointServiceRequestResource(resource_type="slb", resource_id="lb-sim-slb-001")]),
        runtime).body.service_id
    assert get(c, sid, runtime).connect_bandwidth == 3072
    ep = sim.admin("POST", "connections", {"serviceId": sid})["endpointId"]
    update = lambda bw: c.update_vpc_endpoint_connection_attribute_with_options(  # noqa: E731
        m.UpdateVpcEndpointConnectionAttributeRequest(region_id=REGION, service_id=sid, endpoint_id=ep,
                                                      bandwidth=bw), runtime)
    update(2048)
    refused(lambda: update(99), "IllegalParamFormat.Bandwidth")
    refused(lambda: update(10241), "IllegalParamFormat.Bandwidth")
    x = c.list_vpc_endpoint_connections_with_options(m.ListVpcEndpointConnectionsRequest(
        region_id=REGION, service_id=sid), runtime).body.connections
    assert [(y.endpoint_id, y.bandwidth) for y in x] == [(ep, 2048)]
    # A CLB service has no zone-scoped backends: DetachResource needs no ZoneId (and is still refused
    # while the connection holds the backend).
    refused(lambda: c.detach_resource_from_vpc_endpoint_service_with_options(
        m.DetachResourceFromVpcEndpointServiceRequest(region_id=REGION, service_id=sid, resource_id="lb-sim-slb-001",
                                                      resource_type="slb"), runtime),
        "EndpointServiceConnectionDependence")


def test_tag_api_codes(sim, runtime):
    sim.admin("PUT", "config", {"createSeconds": 0})
    c = sim.client()
    sid = c.create_vpc_endpoint_service_with_options(create_req(), runtime).body.service_id
    T = m.TagResourcesRequestTag
    tag = lambda tags, ids=(sid,): c.tag_resources_with_options(m.TagResourcesRequest(  # noqa: E731
        region_id=REGION, resource_type="vpcendpointservice", resource_id=list(ids), tag=tags), runtime)
    cases = [
        ([T(value="1")], "MissingTagKeyParam"),
        ([T(key="aliyun:x", value="1")], "IllegalTagKeyParam"),
        ([T(key="https://x", value="1")], "IllegalTagKeyParam"),
        ([T(key="x", value="acs:1")], "IllegalTagValueParam"),
        ([T(key="x", value="aliyun-1")], "IllegalTagValueParam"),
        ([T(key="x", value="1"), T(key="x", value="2")], "DuplicatedTagKey"),
        ([T(key=f"k{i}", value="v") for i in range(20)], "QuotaExceed.TagsPerResource"),  # 20 + env=dev
    ]
    for tags, code in cases:
        refused(lambda: tag(tags), code)
    refused(lambda: tag([T(key="a", value="1")], ids=["epsrv-doesnotexist"]), "InvalidResourceId.NotFound")
    tag([T(key=f"k{i}", value="v") for i in range(19)])  # exactly 20 with env=dev
    untag = lambda keys: c.untag_resources_with_options(m.UntagResourcesRequest(  # noqa: E731
        region_id=REGION, resource_type="vpcendpointservice", resource_id=[sid], tag_key=keys), runtime)
    refused(lambda: untag(["nope"]), "TagInfoNotExist")
    refused(lambda: untag(["k1", "k1"]), "DuplicatedTagKey")
    untag([f"k{i}" for i in range(19)])
    refused(lambda: c.list_tag_resources_with_options(m.ListTagResourcesRequest(
        region_id=REGION, resource_type="vpcendpointservice"), runtime), "MissingResourceIdOrTagParam")
    rows = c.list_tag_resources_with_options(m.ListTagResourcesRequest(
        region_id=REGION, resource_type="vpcendpointservice",
        tag=[m.ListTagResourcesRequestTag(key="env")]), runtime).body.tag_resources
    assert [(r.resource_id, r.tag_key, r.tag_value) for r in rows] == [(sid, "env", "dev")]
