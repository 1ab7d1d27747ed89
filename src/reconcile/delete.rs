//! Cleanup under the finalizer: observe, ask [`plan::teardown`], act, report. Returning an error keeps
//! the finalizer (kube-runtime's contract); returning `Ok` releases the object.

use std::time::Duration;

use kube::{
    Api,
    runtime::{controller::Action, events::EventType},
};
use tracing::{info, warn};

use super::{
    Context, fail, observe,
    plan::{self, Release, Seen, Teardown},
    status::Phase,
    write_phase,
};
use crate::{
    alicloud::{
        CallError, Credentials,
        ops::{
            DeleteVpcEndpointService, DetachResource, DisableConnection, GetVpcEndpointServiceAttribute,
            ResourceParam,
        },
        vocab::ServiceStatus,
    },
    crd::VpcEndpointService,
    error::{Error, Result},
};

/// How often a teardown held by live consumer connections looks again.
pub const BLOCKED_RECHECK: Duration = Duration::from_secs(30);
use super::schedule::LOCKED_RECHECK;

/// Keep the finalizer and look again (after `after`, or at the polling pace).
fn again(service_id: &str, after: Option<Duration>) -> Error {
    Error::Requeue { reason: format!("endpoint service {service_id} is being deleted"), after }
}

/// Tear the service down; once the object may go, release the credentials Secret if it was the last
/// user (an error keeps the finalizer, so the Secret is never left protected by a gone object).
pub(super) async fn cleanup(
    obj: &VpcEndpointService,
    ctx: &Context,
    api: &Api<VpcEndpointService>,
) -> Result<Action> {
    let action = teardown(obj, ctx, api).await?;
    super::export::cleanup(ctx, obj).await?;
    let ns = super::ns_of(obj)?;
    for name in super::secrets::protected_by(obj) {
        super::secrets::release_if_unused(ctx, &ns, &name, Some(obj)).await?;
    }
    Ok(action)
}

async fn teardown(obj: &VpcEndpointService, ctx: &Context, api: &Api<VpcEndpointService>) -> Result<Action> {
    let st = obj.status.clone().unwrap_or_default();
    if super::control::keeps_service(obj) {
        let step = plan::teardown(true, false, &Seen::NoneKnown);
        return released(obj, ctx, st.service_id.as_deref().unwrap_or("(none)"), step).await;
    }
    let uid = obj.metadata.uid.clone().unwrap_or_default();
    let creds = match observe::credentials(obj, ctx).await {
        Ok(c) => c,
        Err(e) if st.service_id.is_none() => {
            // Nothing was ever created with these (missing) credentials' help that we know of.
            warn!(error = %e, "releasing an object that never got a service; credentials unavailable");
            return Ok(Action::await_change());
        }
        Err(e) => return fail(obj, ctx, api, st, e).await,
    };
    let recorded_account =
        st.account_id.clone().or_else(|| super::restore::recorded(obj).1.map(str::to_string));
    match (ctx.account_of(&creds).await, recorded_account.as_deref()) {
        (Err(e), _) => return fail(obj, ctx, api, st, e.into()).await,
        (Ok(now), Some(recorded)) if now != recorded => {
            // Another account cannot see the service: its NotFound must not release the finalizer.
            let phase = super::account_mismatch(recorded, &now, st.service_id.as_deref());
            write_phase(obj, ctx, api, st, &phase).await?;
            return Err(again("(account mismatch)", Some(super::ACCOUNT_RECHECK)));
        }
        _ => {}
    }
    let region = obj.region().to_string();
    let (service_id, seen) = match see(ctx, &creds, &region, st.service_id.clone(), &uid).await {
        Ok(x) => x,
        Err(e) => return fail(obj, ctx, api, st, e).await,
    };
    let step = plan::teardown(false, obj.spec.disconnect_on_delete == Some(true), &seen);
    let sid = service_id.clone().unwrap_or_default();
    let (result, phase, after): (std::result::Result<(), CallError>, Phase, Option<Duration>) = match step {
        Teardown::Release(_) => return released(obj, ctx, &sid, step).await,
        Teardown::Confirm => (
            Ok(()),
            deleting(format!("endpoint service {sid} reads as gone but is still listed; confirming")),
            None,
        ),
        Teardown::Wait(status) => (Ok(()), deleting(waiting(&sid, &status)), None),
        Teardown::Locked(business) => {
            let phase = Phase::Failed {
                reason: business.to_string(),
                message: format!(
                    "endpoint service {sid} is {business} in Alibaba Cloud and refuses changes; deletion resumes once the account is settled"
                ),
                terminal: false,
            };
            (Ok(()), phase, Some(LOCKED_RECHECK))
        }
        Teardown::Blocked { endpoints } => {
            let phase = Phase::Failed {
                reason: "DeletionBlocked".into(),
                message: plan::blocked_message(&sid, &endpoints),
                terminal: false,
            };
            (Ok(()), phase, Some(BLOCKED_RECHECK))
        }
        Teardown::Disconnect(endpoint_id) => {
            let op = DisableConnection {
                region_id: region.clone(),
                service_id: sid.clone(),
                endpoint_id: endpoint_id.clone(),
            };
            let r = ctx.cloud.call(&creds, &op).await.map(drop);
            if r.is_ok() {
                let note = format!(
                    "disconnectOnDelete: disabled the connection of endpoint {endpoint_id} before deleting endpoint service {sid}"
                );
                ctx.publish(obj, EventType::Normal, "ConnectionRejected", "Delete", note).await;
            }
            let what = format!(
                "disconnectOnDelete: disconnecting endpoint {endpoint_id} from endpoint service {sid}; deleting once every connection is Disconnected"
            );
            (r, deleting(what), None)
        }
        Teardown::Disconnecting { endpoints } => {
            let what = format!(
                "disconnectOnDelete: waiting for the connections of {} to be Disconnected before deleting endpoint service {sid}",
                endpoints.join(", ")
            );
            (Ok(()), deleting(what), None)
        }
        Teardown::Detach(resource) => {
            let what = format!("detaching {} from endpoint service {sid}", resource.resource_id);
            (detach(ctx, &creds, &region, &sid, resource).await, deleting(what), None)
        }
        Teardown::Delete => {
            let op = DeleteVpcEndpointService { region_id: region, service_id: sid.clone() };
            let r = ctx.cloud.call(&creds, &op).await;
            if let Ok(r) = &r {
                info!(service_id = sid, request_id = %r.request_id, "deleting endpoint service");
            }
            let what =
                format!("deleting endpoint service {sid}; waiting until Alibaba Cloud reports it gone");
            (r.map(drop), deleting(what), None)
        }
    };
    let mut st = st;
    if service_id.is_some() {
        st.service_id = service_id;
    }
    match result {
        Ok(()) => {}
        // Gone under our feet: the next pass confirms it with a second read.
        Err(e) if e.cloud().is_some_and(|c| c.is_not_found()) => {}
        // The service must settle before it can be changed: poll, do not back off.
        Err(CallError::Cloud(c)) if c.code.starts_with("IncorrectStatus") => {}
        // A connection in transition (disconnectOnDelete): it settles by itself; poll.
        Err(CallError::Cloud(c)) if c.code == "EndpointConnectionOperationDenied" => {}
        Err(e) => return fail(obj, ctx, api, st, e.into()).await,
    }
    if let Phase::Progressing { .. } = phase {
        st.service_status = Some("Deleting".into());
    }
    write_phase(obj, ctx, api, st, &phase).await?;
    Err(again(&sid, after))
}

fn deleting(message: String) -> Phase {
    Phase::Progressing { reason: "Deleting".into(), message }
}

fn waiting(sid: &str, status: &ServiceStatus) -> String {
    match status {
        ServiceStatus::Deleting => {
            format!("endpoint service {sid} is being deleted; waiting until Alibaba Cloud reports it gone")
        }
        other => format!("endpoint service {sid} is {other}; waiting for it to settle before deleting"),
    }
}

async fn detach(
    ctx: &Context,
    creds: &Credentials,
    region: &str,
    sid: &str,
    resource: ResourceParam,
) -> std::result::Result<(), CallError> {
    let op = DetachResource { region_id: region.into(), service_id: sid.into(), resource };
    ctx.cloud.call(creds, &op).await.map(drop)
}

/// Observe the service for teardown: which ID, and what the cloud says about it. Get is believed only
/// together with the ownership-tag lookup; a service owned by this object under another ID (a duplicate)
/// is torn down too.
async fn see(
    ctx: &Context,
    creds: &Credentials,
    region: &str,
    recorded: Option<String>,
    uid: &str,
) -> Result<(Option<String>, Seen)> {
    let mut id = recorded;
    for _ in 0..2 {
        let Some(sid) = id.clone() else {
            // The Create may have happened without its answer reaching us: look for our ownership tag.
            return Ok(match observe::find_owned(ctx, creds, region, uid).await? {
                Some(attrs) => (Some(attrs.service_id.clone()), present(ctx, creds, region, &attrs).await?),
                None => (None, Seen::NoneKnown),
            });
        };
        let get = GetVpcEndpointServiceAttribute { region_id: region.into(), service_id: sid.clone() };
        match ctx.cloud.call(creds, &get).await {
            Ok(attrs) => return Ok((Some(sid), present(ctx, creds, region, &attrs).await?)),
            Err(e) if e.cloud().is_some_and(|c| c.is_not_found()) => {
                let listed = observe::owned(ctx, creds, region, uid).await?;
                if let Some(same) = listed.iter().find(|s| s.service_id == sid) {
                    return Ok((Some(sid), Seen::NotFound { listed: Some(same.status()) }));
                }
                match listed.into_iter().find(|s| s.status() != ServiceStatus::Deleting) {
                    // Another service of ours: tear that one down next.
                    Some(other) => id = Some(other.service_id),
                    None => return Ok((Some(sid), Seen::NotFound { listed: None })),
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    // Still listed under yet another ID while Get denies it: the reads disagree, look again.
    Ok((id, Seen::NotFound { listed: Some(ServiceStatus::Other("Listed".into())) }))
}

/// A present service: its resources and connections are read only when they can matter.
async fn present(
    ctx: &Context,
    creds: &Credentials,
    region: &str,
    attrs: &crate::alicloud::ops::ServiceAttributes,
) -> Result<Seen> {
    let status = attrs.status();
    let settled = matches!(status, ServiceStatus::Active | ServiceStatus::Pending);
    let (resources, connections) = if settled {
        let sid = &attrs.service_id;
        let resources = observe::resources(ctx, creds, region, sid)
            .await?
            .into_iter()
            .map(|r| ResourceParam {
                resource_type: r.resource_type,
                resource_id: r.resource_id,
                zone_id: r.zone_id.filter(|z| !z.is_empty()),
            })
            .collect();
        (resources, observe::connections(ctx, creds, region, sid).await?)
    } else {
        (vec![], vec![])
    };
    Ok(Seen::Present { status, business: attrs.business_status(), resources, connections })
}

async fn released(
    obj: &VpcEndpointService,
    ctx: &Context,
    service_id: &str,
    step: Teardown,
) -> Result<Action> {
    match step {
        Teardown::Release(Release::Orphaned) => {
            let why = if super::control::observe_only(obj) {
                "managementPolicy Observe"
            } else {
                "deletionPolicy Orphan"
            };
            let note = format!("{why}: endpoint service {service_id} left in Alibaba Cloud");
            ctx.publish(obj, EventType::Normal, "Orphaned", "Delete", note).await;
        }
        Teardown::Release(Release::NeverCreated) => {
            info!("no endpoint service was created for this object; releasing it");
        }
        _ => {
            info!(service_id, "endpoint service deleted");
            ctx.publish(
                obj,
                EventType::Normal,
                "Deleted",
                "Delete",
                format!("Deleted endpoint service {service_id}"),
            )
            .await;
        }
    }
    Ok(Action::await_change())
}
