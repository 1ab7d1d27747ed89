//! Observe: which credentials to use, and what the cloud knows about this object's service.

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, ResourceExt};

use super::{
    Context, plan,
    restore::{self, Ownership},
};
use crate::{
    alicloud::{
        Credentials,
        ops::{
            GetVpcEndpointServiceAttribute, ListConnections, ListServiceResources, ListTagResources,
            ListUsers, ListVpcEndpointServices, Principal, ServiceAttributes, ServiceResourceRow, TagParam,
            UserListType,
        },
        vocab::ServiceStatus,
    },
    crd::{OWNER_TAG_KEY, VpcEndpointService},
    error::{Error, Result},
};

/// Annotation naming an existing endpoint service to adopt instead of creating one.
pub const ADOPT_ANNOTATION: &str = "privatelink.alicloud.dev/adopt-service-id";

/// The cloud's view of this object's service.
#[derive(Clone, Debug, PartialEq)]
pub enum Observed {
    /// No service yet: create one.
    Absent,
    /// The service recorded in status was deleted outside Kubernetes.
    Gone(String),
    /// The service, as Alibaba reports it.
    Found(Box<ServiceAttributes>),
    /// Get says NotFound for the recorded ID, yet the ownership-tag listing still has it: the two reads
    /// disagree, so nothing is believed yet (look again).
    Confirming(String),
    /// The service to adopt carries another resource's ownership tag.
    Conflict { service_id: String, owner: String },
}

/// Credentials for an object: its Secret if it names one, else the operator's default.
/// Secret values are never logged or copied anywhere but into the request signer.
pub async fn credentials(obj: &VpcEndpointService, ctx: &Context) -> Result<Credentials> {
    let ns = obj.namespace().unwrap_or_default();
    credentials_in(ctx, &ns, obj.spec.credentials_secret_ref.as_ref()).await
}

/// Credentials from Secret `secret_ref` in namespace `ns` (protected while in use), else the
/// operator's default: for objects of every kind.
pub async fn credentials_in(
    ctx: &Context,
    ns: &str,
    secret_ref: Option<&crate::crd::SecretRef>,
) -> Result<Credentials> {
    let Some(r) = secret_ref else {
        let default = ctx.default_credentials.as_ref().ok_or_else(|| {
            Error::Credentials(
                "no spec.credentialsSecretRef and the operator has no default credentials (ALIBABA_CLOUD_ACCESS_KEY_ID or RRSA)".into(),
            )
        })?;
        return Ok(default.get(ctx.cloud.http()).await?);
    };
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let secret = secrets
        .get_opt(&r.name)
        .await?
        .ok_or_else(|| Error::Credentials(format!("Secret {ns}/{} not found", r.name)))?;
    // Kept until no object uses it, so a namespace deletion cannot take it before the service.
    super::secrets::protect(ctx, ns, &secret).await?;
    let data = secret.data.unwrap_or_default();
    let field = |k: &str| {
        data.get(k).map(|b| String::from_utf8_lossy(&b.0).trim().to_string()).filter(|s| !s.is_empty())
    };
    let id = field("accessKeyId")
        .ok_or_else(|| Error::Credentials(format!("Secret {ns}/{} has no key accessKeyId", r.name)))?;
    let key = field("accessKeySecret")
        .ok_or_else(|| Error::Credentials(format!("Secret {ns}/{} has no key accessKeySecret", r.name)))?;
    Ok(Credentials::new(id, key, field("securityToken")))
}

/// Look up the service: by `status.serviceId`, else by the adoption annotation, else by the ownership
/// tag (which finds a service whose Create answer was lost before its ID reached the status; only
/// needed once a Create may have been sent).
///
/// A NotFound for the recorded ID is believed only when the ownership-tag listing agrees; a service to
/// adopt must not carry another resource's ownership tag.
pub async fn observe(
    obj: &VpcEndpointService,
    ctx: &Context,
    creds: &Credentials,
    uid: &str,
    st: &crate::crd::VpcEndpointServiceStatus,
) -> Result<Observed> {
    let region = obj.region().to_string();
    // The status's ID, or the one this process's Create answered with before the status has it.
    let recorded = obj.service_id().map(str::to_string).or_else(|| ctx.created_here(obj));
    // This object may have sent a Create (its own ClientToken is in the status) and no ID is known (a
    // lost answer, or a restart before the first read): the service carrying its ownership tag is the
    // one, whatever an annotation names (one listing, no annotation to trust). A status restored with a
    // backup carries the old object's token: the restore annotation leads then, checked by its tag.
    let sent = recorded.is_none()
        && st.create_client_token.as_deref().is_some_and(|t| super::create::token_is_for(t, uid));
    // After a restore (new UID, no status) the annotation still names the service; a replaced
    // (gone) service's ID is not followed again.
    let (restored, adopt) = if sent {
        (None, None)
    } else {
        let restored = restore::recorded(obj).0.filter(|id| st.replaced_service_id.as_deref() != Some(*id));
        (restored.map(str::to_string), obj.annotations().get(ADOPT_ANNOTATION).cloned())
    };
    let known = recorded.clone().or(restored.clone());
    if let Some(id) = known.clone().or(adopt) {
        let get = GetVpcEndpointServiceAttribute { region_id: region.clone(), service_id: id.clone() };
        return match ctx.cloud.call(creds, &get).await {
            Ok(attrs) if recorded.is_none() => {
                let owner =
                    tags(ctx, creds, &region, &id).await?.into_iter().find(|t| t.key == OWNER_TAG_KEY);
                let tag = owner.as_ref().map(|t| t.value.as_str());
                let via_restore = restored.as_deref() == Some(id.as_str());
                let alive = tag.map_or(Some(false), |t| restore::uid_alive(ctx, t));
                match restore::ownership(tag, uid, via_restore, alive) {
                    Ownership::Mine | Ownership::Restored => Ok(Observed::Found(Box::new(attrs))),
                    // Reading another resource's service changes nothing: observe-only may watch it.
                    Ownership::Conflict if super::control::observe_only(obj) => {
                        Ok(Observed::Found(Box::new(attrs)))
                    }
                    Ownership::Conflict => {
                        Ok(Observed::Conflict { service_id: id, owner: tag.unwrap_or_default().to_string() })
                    }
                    Ownership::Unknown => Err(Error::Requeue {
                        reason:
                            "waiting for the cache to list every object before taking a restored service over"
                                .into(),
                        after: Some(std::time::Duration::from_secs(1)),
                    }),
                }
            }
            Ok(attrs) => Ok(Observed::Found(Box::new(attrs))),
            Err(e) if e.cloud().is_some_and(|c| c.is_not_found()) && known.is_some() => {
                let listed = owned(ctx, creds, &region, uid).await?;
                if listed.iter().any(|s| s.service_id == id) {
                    Ok(Observed::Confirming(id))
                } else if let Some(other) = listed.into_iter().find(|s| s.status() != ServiceStatus::Deleting)
                {
                    // This object's own service under another ID (a Create whose answer was lost).
                    Ok(Observed::Found(Box::new(other)))
                } else {
                    Ok(Observed::Gone(id))
                }
            }
            Err(e) => Err(e.into()),
        };
    }
    // A Create may have been sent only once its token was persisted (or, for objects an earlier
    // version reconciled, once the status has conditions other than the `Queued` an object without any
    // gets while it waits for its first turn).
    if st.create_client_token.is_none() && never_sent(st) && !super::control::observe_only(obj) {
        return Ok(Observed::Absent);
    }
    Ok(match find_owned(ctx, creds, &region, uid).await? {
        Some(attrs) => Observed::Found(Box::new(attrs)),
        None => Observed::Absent,
    })
}

/// No Create can have been sent for this status (given no ClientToken): nothing was ever written, or
/// only the `Queued` phase, which is written only to a status without conditions.
pub fn never_sent(st: &crate::crd::VpcEndpointServiceStatus) -> bool {
    st.conditions.is_empty()
        || st.conditions.iter().any(|c| c.type_ == super::status::cond::READY && c.reason == super::QUEUED)
}

/// The service carrying this object's ownership tag, if any (oldest first if there were several),
/// not counting services being deleted.
pub async fn find_owned(
    ctx: &Context,
    creds: &Credentials,
    region: &str,
    uid: &str,
) -> Result<Option<ServiceAttributes>> {
    let mut found = owned(ctx, creds, region, uid).await?;
    found.retain(|s| s.status() != ServiceStatus::Deleting);
    Ok(found.into_iter().next())
}

/// Every service carrying this object's ownership tag, `Deleting` ones included, oldest first.
pub async fn owned(
    ctx: &Context,
    creds: &Credentials,
    region: &str,
    uid: &str,
) -> Result<Vec<ServiceAttributes>> {
    let list = ListVpcEndpointServices {
        region_id: region.to_string(),
        tags: vec![TagParam { key: OWNER_TAG_KEY.into(), value: uid.into() }],
        max_results: Some(50),
        ..Default::default()
    };
    let mut found = ctx.cloud.call(creds, &list).await?.services;
    found.sort_by(|a, b| a.create_time.cmp(&b.create_time));
    Ok(found)
}

/// Every row of a paged listing: `request(token)` builds the call for a page, `rows(page)` takes its
/// rows and its `NextToken` (empty or absent on the last page).
async fn all_pages<O, T>(
    ctx: &Context,
    creds: &Credentials,
    request: impl Fn(Option<String>) -> O,
    rows: impl Fn(O::Response) -> (Vec<T>, Option<String>),
) -> Result<Vec<T>>
where
    O: crate::alicloud::ops::Operation,
{
    let mut out = vec![];
    let mut next_token = None;
    loop {
        let (page, next) = rows(ctx.cloud.call(creds, &request(next_token)).await?);
        out.extend(page);
        next_token = next.filter(|t| !t.is_empty());
        if next_token.is_none() {
            return Ok(out);
        }
    }
}

/// Every endpoint connection of a service.
pub async fn connections(
    ctx: &Context,
    creds: &Credentials,
    region: &str,
    service_id: &str,
) -> Result<Vec<plan::Connection>> {
    let request =
        |next_token| ListConnections { region_id: region.into(), service_id: service_id.into(), next_token };
    all_pages(ctx, creds, request, |page| {
        let rows = page
            .connections
            .iter()
            .map(|c| plan::Connection {
                endpoint_id: c.endpoint_id.clone(),
                status: c.status(),
                zones: c.zones.iter().map(|z| z.zone_id.clone()).collect(),
                owner: c.endpoint_owner_id.map(|o| o.to_string()),
                bandwidth: c.bandwidth,
            })
            .collect();
        (rows, page.next_token)
    })
    .await
}

/// The service's whitelist: its account IDs and its principal ARNs (two listings).
pub async fn users(
    ctx: &Context,
    creds: &Credentials,
    region: &str,
    service_id: &str,
) -> Result<Vec<Principal>> {
    let mut out = vec![];
    for list_type in [UserListType::Users, UserListType::UserArns] {
        let request = |next_token| ListUsers {
            region_id: region.into(),
            service_id: service_id.into(),
            list_type,
            next_token,
        };
        out.extend(all_pages(ctx, creds, request, |page| (page.principals(), page.next_token)).await?);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// All backend resources of a service.
pub async fn resources(
    ctx: &Context,
    creds: &Credentials,
    region: &str,
    service_id: &str,
) -> Result<Vec<ServiceResourceRow>> {
    let request = |next_token| ListServiceResources {
        region_id: region.into(),
        service_id: service_id.into(),
        next_token,
    };
    all_pages(ctx, creds, request, |page| (page.resources, page.next_token)).await
}

/// All tags of a service.
pub async fn tags(
    ctx: &Context,
    creds: &Credentials,
    region: &str,
    service_id: &str,
) -> Result<Vec<TagParam>> {
    let request =
        |next_token| ListTagResources { region_id: region.into(), service_id: service_id.into(), next_token };
    all_pages(ctx, creds, request, |page| {
        let rows = page
            .tag_resources
            .into_iter()
            .filter(|t| t.resource_id == service_id)
            .map(|t| TagParam { key: t.tag_key, value: t.tag_value })
            .collect();
        (rows, page.next_token)
    })
    .await
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

    use super::*;
    use crate::crd::VpcEndpointServiceStatus;

    fn cond(type_: &str, reason: &str) -> Condition {
        Condition {
            type_: type_.into(),
            reason: reason.into(),
            status: "False".into(),
            message: String::new(),
            observed_generation: Some(1),
            last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                jiff::Timestamp::UNIX_EPOCH,
            ),
        }
    }

    /// Whether a status without a ClientToken can skip the ownership-tag lookup before a Create.
    #[test]
    fn never_sent_table() {
        let cases: &[(&str, Vec<Condition>, bool)] = &[
            ("a new object", vec![], true),
            ("waiting for its first turn", vec![cond("Ready", "Queued"), cond("Synced", "Queued")], true),
            ("reconciled by an earlier version (no token then)", vec![cond("Ready", "Creating")], false),
            ("a failure before the Create", vec![cond("Ready", "BackendNotReady")], false),
        ];
        for (name, conditions, want) in cases {
            let st = VpcEndpointServiceStatus { conditions: conditions.clone(), ..Default::default() };
            assert_eq!(never_sent(&st), *want, "{name}");
        }
    }
}
