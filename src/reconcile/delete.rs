//! Cleanup under the finalizer: delete the endpoint service and hold the object until Alibaba
//! reports it gone. Returning an error keeps the finalizer (kube-runtime's contract); returning `Ok`
//! releases the object.

use kube::{
    Api,
    runtime::{controller::Action, events::EventType},
};
use tracing::{info, warn};

use super::{Context, fail, observe, status::Phase, write_phase};
use crate::{
    alicloud::{
        CallError,
        ops::{DeleteVpcEndpointService, DetachResource, GetVpcEndpointServiceAttribute, ResourceParam},
    },
    crd::{DeletionPolicy, VpcEndpointService},
    error::{Error, Result},
};

/// The next teardown step of an existing service.
enum Teardown {
    /// Detach this backend resource first.
    Detach(ResourceParam),
    /// Delete the service.
    Delete,
    /// The service is not Active (Creating, Pending, Deleting): look again later.
    Wait,
}

/// Still deleting: keep the finalizer and poll.
fn still_deleting(service_id: &str) -> Error {
    Error::Requeue { reason: format!("endpoint service {service_id} is being deleted"), after: None }
}

pub(super) async fn cleanup(
    obj: &VpcEndpointService,
    ctx: &Context,
    api: &Api<VpcEndpointService>,
) -> Result<Action> {
    let st = obj.status.clone().unwrap_or_default();
    if obj.spec.deletion_policy == Some(DeletionPolicy::Orphan) {
        let note = format!(
            "deletionPolicy Orphan: endpoint service {} left in Alibaba Cloud",
            st.service_id.as_deref().unwrap_or("(none)")
        );
        ctx.publish(obj, EventType::Normal, "Orphaned", "Delete", note).await;
        return Ok(Action::await_change());
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
    let region = obj.region().to_string();
    let service_id = match st.service_id.clone() {
        Some(id) => id,
        // The Create may have happened without its answer reaching us: look for our ownership tag.
        None => match observe::find_owned(ctx, &creds, &region, &uid).await {
            Ok(Some(attrs)) => attrs.service_id,
            Ok(None) => return Ok(Action::await_change()),
            Err(e) if e.is_terminal() => {
                warn!(error = %e, "releasing an object that never got a service; lookup rejected");
                return Ok(Action::await_change());
            }
            Err(e) => return fail(obj, ctx, api, st, e).await,
        },
    };
    let get = GetVpcEndpointServiceAttribute { region_id: region.clone(), service_id: service_id.clone() };
    let attrs = match ctx.cloud.call(&creds, &get).await {
        Ok(a) => a,
        Err(e) if e.cloud().is_some_and(|c| c.is_not_found()) => {
            return Ok(deleted(obj, ctx, &service_id).await);
        }
        Err(e) => return fail(obj, ctx, api, st, e.into()).await,
    };
    // PrivateLink wants the backend resources removed before the service, and both calls need an Active
    // service: detach one resource at a time (each takes the service through Pending), then delete.
    let cloud_status = attrs.service_status.clone().unwrap_or_default();
    let next = if cloud_status == "Active" {
        match observe::resources(ctx, &creds, &region, &service_id).await {
            Ok(attached) => attached.into_iter().next(),
            Err(e) => return fail(obj, ctx, api, st, e).await,
        }
        .map(|r| ResourceParam {
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            zone_id: r.zone_id.filter(|z| !z.is_empty()),
        })
        .map_or(Teardown::Delete, Teardown::Detach)
    } else {
        Teardown::Wait
    };
    let deleting = matches!(next, Teardown::Delete) || cloud_status == "Deleting";
    let (result, what) = match next {
        Teardown::Detach(resource) => {
            let op = DetachResource { region_id: region, service_id: service_id.clone(), resource };
            (ctx.cloud.call(&creds, &op).await.map(drop), "detaching the resources of")
        }
        Teardown::Delete => {
            let op = DeleteVpcEndpointService { region_id: region, service_id: service_id.clone() };
            let r = ctx.cloud.call(&creds, &op).await;
            if let Ok(r) = &r {
                info!(service_id, request_id = %r.request_id, "deleting endpoint service");
            }
            (r.map(drop), "deleting")
        }
        Teardown::Wait => (Ok(()), if deleting { "deleting" } else { "waiting to delete" }),
    };
    match result {
        Ok(()) => {}
        Err(e) if e.cloud().is_some_and(|c| c.is_not_found()) => {
            return Ok(deleted(obj, ctx, &service_id).await);
        }
        // The service must settle before it can be deleted: poll, do not back off.
        Err(CallError::Cloud(c)) if c.code.starts_with("IncorrectStatus") => {}
        Err(e) => return fail(obj, ctx, api, st, e.into()).await,
    }
    let mut st = st;
    st.service_status = Some(if deleting { "Deleting".into() } else { cloud_status });
    let message =
        format!("{what} endpoint service {service_id}; waiting until Alibaba Cloud reports it gone");
    // Keep the finalizer: return an error that only schedules the next poll.
    write_phase(obj, ctx, api, st, &Phase::Progressing { reason: "Deleting".into(), message }).await?;
    Err(still_deleting(&service_id))
}

async fn deleted(obj: &VpcEndpointService, ctx: &Context, service_id: &str) -> Action {
    info!(service_id, "endpoint service deleted");
    ctx.publish(
        obj,
        EventType::Normal,
        "Deleted",
        "Delete",
        format!("Deleted endpoint service {service_id}"),
    )
    .await;
    Action::await_change()
}
