//! Decisions for a `VpcEndpoint`, pure: the next change that brings the endpoint in line with its spec,
//! the phase its conditions show, and the next teardown step.

use std::time::Duration;

use crate::{
    alicloud::{
        ops::{EndpointAttributes, EndpointSecurityGroupRow, EndpointZoneRow, ZoneParam},
        vocab::{ConnectionStatus, EndpointStatus},
    },
    crd::VpcEndpointSpec,
    reconcile::{schedule::Wait, status::Phase},
};

/// Reasons the endpoint's `Ready` condition gives (besides the cloud's error codes).
pub mod reason {
    /// The connection waits for the service owner to accept it.
    pub const AWAITING_APPROVAL: &str = "AwaitingApproval";
    /// The service owner refused (or cut) the connection.
    pub const REJECTED: &str = "Rejected";
    /// The service does not exist (or this account cannot see it).
    pub const SERVICE_NOT_FOUND: &str = "ServiceNotFound";
    /// This account is not on the service's whitelist.
    pub const NOT_ALLOWED: &str = "NotAllowed";
    /// The referenced `VpcEndpointService` is not Ready yet.
    pub const WAITING_FOR_SERVICE: &str = "WaitingForService";
    /// The endpoint service behind the endpoint was deleted.
    pub const SERVICE_GONE: &str = "ServiceGone";
}

/// One change to the endpoint. Alibaba refuses concurrent changes on one endpoint, so the operator
/// makes one at a time and waits for it to settle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Attach a security group (before any is detached, so the endpoint always keeps one).
    AttachSecurityGroup(String),
    /// Add a zone.
    AddZone(ZoneParam),
    /// Set name and description.
    Update { name: Option<String>, description: Option<String> },
    /// Detach a security group the spec no longer lists.
    DetachSecurityGroup(String),
    /// Remove a zone the spec no longer lists.
    RemoveZone(String),
}

/// What the endpoint needs now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// The cloud is still working on an earlier change (what).
    Settling(String),
    /// Make this change.
    Act(Step),
    /// The endpoint matches the spec.
    InSync,
}

fn transitional_sg(status: Option<&str>) -> bool {
    matches!(status, Some("Attaching" | "Detaching"))
}

fn transitional_zone(status: Option<&str>) -> bool {
    matches!(status, Some("Creating" | "Deleting"))
}

/// The next change, in the order that never cuts more than the spec asks: additions (security groups,
/// zones) first, then attributes, then removals. `zones`/`groups`: the listings, `None` when not read
/// on this pass (nothing is decided about them).
pub fn next(
    spec: &VpcEndpointSpec,
    attrs: &EndpointAttributes,
    zones: Option<&[EndpointZoneRow]>,
    groups: Option<&[EndpointSecurityGroupRow]>,
) -> Next {
    let status = attrs.status();
    if status != EndpointStatus::Active {
        return Next::Settling(format!("endpoint is {status}"));
    }
    if let Some(groups) = groups {
        if let Some(g) = groups.iter().find(|g| transitional_sg(g.security_group_status.as_deref())) {
            return Next::Settling(format!(
                "security group {} is {}",
                g.security_group_id,
                g.security_group_status.as_deref().unwrap_or_default()
            ));
        }
        if let Some(missing) =
            spec.security_group_ids.iter().find(|w| !groups.iter().any(|g| &g.security_group_id == *w))
        {
            return Next::Act(Step::AttachSecurityGroup(missing.clone()));
        }
    }
    if let Some(zones) = zones {
        if let Some(z) = zones.iter().find(|z| transitional_zone(z.zone_status.as_deref())) {
            return Next::Settling(format!(
                "zone {} is {}",
                z.zone_id,
                z.zone_status.as_deref().unwrap_or_default()
            ));
        }
        if let Some(missing) = spec.zones.iter().find(|w| !zones.iter().any(|z| z.zone_id == w.zone_id)) {
            return Next::Act(Step::AddZone(ZoneParam {
                zone_id: missing.zone_id.clone(),
                v_switch_id: missing.v_switch_id.clone(),
                ip: missing.ip.clone(),
            }));
        }
    }
    let differs = |want: &Option<String>, have: &Option<String>| {
        want.as_ref().is_some_and(|w| have.as_deref().unwrap_or_default() != w)
    };
    if differs(&spec.endpoint_name, &attrs.endpoint_name)
        || differs(&spec.endpoint_description, &attrs.endpoint_description)
    {
        return Next::Act(Step::Update {
            name: spec.endpoint_name.clone().filter(|_| differs(&spec.endpoint_name, &attrs.endpoint_name)),
            description: spec
                .endpoint_description
                .clone()
                .filter(|_| differs(&spec.endpoint_description, &attrs.endpoint_description)),
        });
    }
    if let Some(groups) = groups
        && let Some(extra) = groups.iter().find(|g| !spec.security_group_ids.contains(&g.security_group_id))
    {
        return Next::Act(Step::DetachSecurityGroup(extra.security_group_id.clone()));
    }
    if let Some(zones) = zones
        && let Some(extra) = zones.iter().find(|z| !spec.zones.iter().any(|w| w.zone_id == z.zone_id))
    {
        return Next::Act(Step::RemoveZone(extra.zone_id.clone()));
    }
    Next::InSync
}

/// The phase of an endpoint the operator has nothing to change on, and when to look again:
/// `Ready=True` only when it is Active and its connection Connected. `poll`: the connection poll
/// interval (how soon an owner's approval is noticed), `resync`: the drift-check interval.
/// `was_ready`: Ready for this generation already — then a drift correction in progress (the endpoint
/// `Pending` while a security group changes, a zone being re-added) keeps it Ready: it still carries
/// traffic, and Argo CD / Flux must not see a flap.
pub fn phase(
    attrs: &EndpointAttributes,
    next: &Next,
    was_ready: bool,
    poll: Duration,
    resync: Duration,
) -> (Phase, Wait) {
    let (phase, wait) = settled_phase(attrs, next, poll, resync);
    let connected = attrs.connection() == ConnectionStatus::Connected;
    match phase {
        Phase::Progressing { reason, message } if was_ready && connected && reason == "Updating" => (
            Phase::Available {
                message: format!("endpoint {} is Connected; correcting drift: {message}", attrs.endpoint_id),
            },
            wait,
        ),
        other => (other, wait),
    }
}

fn settled_phase(attrs: &EndpointAttributes, next: &Next, poll: Duration, resync: Duration) -> (Phase, Wait) {
    let id = &attrs.endpoint_id;
    let progressing =
        |reason: &str, message: String| (Phase::Progressing { reason: reason.into(), message }, Wait::Poll);
    if attrs.endpoint_business_status.as_deref() == Some("FinancialLocked") {
        let message = format!(
            "endpoint {id} is FinancialLocked (overdue payment); nothing changes until the account is settled"
        );
        return (
            Phase::Failed { reason: "FinancialLocked".into(), message, terminal: false },
            Wait::Fixed(crate::reconcile::schedule::LOCKED_RECHECK),
        );
    }
    match attrs.status() {
        EndpointStatus::Creating => {
            return progressing("Creating", format!("endpoint {id} is being created"));
        }
        EndpointStatus::Deleting => {
            return progressing("Deleting", format!("endpoint {id} is being deleted"));
        }
        EndpointStatus::Pending => {
            return progressing("Updating", format!("endpoint {id} is being modified"));
        }
        _ => {}
    }
    match attrs.connection() {
        ConnectionStatus::Pending => (
            Phase::Progressing {
                reason: reason::AWAITING_APPROVAL.into(),
                message: format!(
                    "endpoint {id} waits for the owner of service {} to accept its connection",
                    attrs.service_id.as_deref().unwrap_or_default()
                ),
            },
            Wait::Fixed(poll),
        ),
        ConnectionStatus::Connecting => progressing("Connecting", format!("endpoint {id} is connecting")),
        ConnectionStatus::Disconnecting => {
            progressing("Disconnecting", format!("endpoint {id} is being disconnected by the service owner"))
        }
        ConnectionStatus::Disconnected => (
            Phase::Failed {
                reason: reason::REJECTED.into(),
                message: format!(
                    "the owner of service {} rejected or disconnected endpoint {id}; it is Ready again once the owner accepts the connection",
                    attrs.service_id.as_deref().unwrap_or_default()
                ),
                terminal: true,
            },
            Wait::Fixed(poll),
        ),
        ConnectionStatus::ServiceDeleted => (
            Phase::Failed {
                reason: reason::SERVICE_GONE.into(),
                message: format!(
                    "endpoint service {} was deleted; endpoint {id} carries no traffic (delete this VpcEndpoint or point a new one at another service)",
                    attrs.service_id.as_deref().unwrap_or_default()
                ),
                terminal: true,
            },
            Wait::Fixed(resync),
        ),
        ConnectionStatus::Connected => match next {
            Next::InSync => (
                Phase::Available { message: format!("endpoint {id} is Active and Connected") },
                Wait::Fixed(resync),
            ),
            Next::Settling(what) => progressing("Updating", what.clone()),
            Next::Act(step) => progressing("Updating", format!("{step:?}")),
        },
        other => progressing("Connecting", format!("endpoint {id}: connection {other}")),
    }
}

/// The next teardown step of an endpoint that exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Teardown {
    /// Wait for the cloud (what).
    Wait(String),
    /// Remove this zone (Alibaba deletes only an endpoint without zones).
    RemoveZone(String),
    /// Delete the endpoint.
    Delete,
}

/// Teardown, one step at a time: zones first (one at a time, the cloud refuses concurrent removals),
/// then the endpoint.
pub fn teardown(attrs: &EndpointAttributes, zones: &[EndpointZoneRow]) -> Teardown {
    match attrs.status() {
        EndpointStatus::Active => {}
        s => return Teardown::Wait(format!("endpoint {} is {s}", attrs.endpoint_id)),
    }
    if let Some(z) = zones.iter().find(|z| z.zone_status.as_deref() != Some("Deleting")) {
        return Teardown::RemoveZone(z.zone_id.clone());
    }
    if !zones.is_empty() {
        return Teardown::Wait(format!("{} zone(s) being removed", zones.len()));
    }
    Teardown::Delete
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::EndpointZoneSpec;

    fn spec(groups: &[&str], zones: &[&str]) -> VpcEndpointSpec {
        serde_json::from_value(serde_json::json!({
            "regionId": "cn-hangzhou", "serviceId": "epsrv-a", "vpcId": "vpc-1",
            "securityGroupIds": groups,
            "zones": zones.iter().map(|z| EndpointZoneSpec { zone_id: z.to_string(), v_switch_id: format!("vsw-{z}"), ip: None }).collect::<Vec<_>>(),
        }))
        .unwrap()
    }

    fn attrs(status: &str, conn: &str) -> EndpointAttributes {
        EndpointAttributes {
            endpoint_id: "ep-1".into(),
            endpoint_status: Some(status.into()),
            connection_status: Some(conn.into()),
            service_id: Some("epsrv-a".into()),
            ..Default::default()
        }
    }

    fn zone(id: &str, status: &str) -> EndpointZoneRow {
        EndpointZoneRow { zone_id: id.into(), zone_status: Some(status.into()), ..Default::default() }
    }

    fn sg(id: &str, status: &str) -> EndpointSecurityGroupRow {
        EndpointSecurityGroupRow { security_group_id: id.into(), security_group_status: Some(status.into()) }
    }

    #[test]
    fn changes_come_one_at_a_time_additions_first() {
        let add_zone = |z: &str| {
            Next::Act(Step::AddZone(ZoneParam {
                zone_id: z.into(),
                v_switch_id: format!("vsw-{z}"),
                ip: None,
            }))
        };
        type Case = (
            &'static str,
            VpcEndpointSpec,
            &'static str,
            Vec<EndpointZoneRow>,
            Vec<EndpointSecurityGroupRow>,
            Next,
        );
        let cases: Vec<Case> = vec![
            (
                "in sync",
                spec(&["sg-1"], &["a"]),
                "Active",
                vec![zone("a", "Connected")],
                vec![sg("sg-1", "Attached")],
                Next::InSync,
            ),
            (
                "endpoint busy",
                spec(&["sg-1"], &["a"]),
                "Pending",
                vec![],
                vec![],
                Next::Settling("endpoint is Pending".into()),
            ),
            (
                "attach before detach",
                spec(&["sg-2"], &["a"]),
                "Active",
                vec![zone("a", "Connected")],
                vec![sg("sg-1", "Attached")],
                Next::Act(Step::AttachSecurityGroup("sg-2".into())),
            ),
            (
                "then detach",
                spec(&["sg-2"], &["a"]),
                "Active",
                vec![zone("a", "Connected")],
                vec![sg("sg-1", "Attached"), sg("sg-2", "Attached")],
                Next::Act(Step::DetachSecurityGroup("sg-1".into())),
            ),
            (
                "group settling",
                spec(&["sg-2"], &["a"]),
                "Active",
                vec![zone("a", "Connected")],
                vec![sg("sg-1", "Attached"), sg("sg-2", "Attaching")],
                Next::Settling("security group sg-2 is Attaching".into()),
            ),
            (
                "add zone before removing one",
                spec(&["sg-1"], &["b"]),
                "Active",
                vec![zone("a", "Connected")],
                vec![sg("sg-1", "Attached")],
                add_zone("b"),
            ),
            (
                "then remove",
                spec(&["sg-1"], &["b"]),
                "Active",
                vec![zone("a", "Connected"), zone("b", "Wait")],
                vec![sg("sg-1", "Attached")],
                Next::Act(Step::RemoveZone("a".into())),
            ),
            (
                "zone settling",
                spec(&["sg-1"], &["a", "b"]),
                "Active",
                vec![zone("a", "Connected"), zone("b", "Creating")],
                vec![sg("sg-1", "Attached")],
                Next::Settling("zone b is Creating".into()),
            ),
        ];
        for (name, spec, status, zones, groups, want) in cases {
            let got = next(&spec, &attrs(status, "Connected"), Some(&zones), Some(&groups));
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn unread_listings_decide_nothing_and_attributes_follow_the_spec() {
        let mut s = spec(&["sg-1"], &["a"]);
        assert_eq!(next(&s, &attrs("Active", "Connected"), None, None), Next::InSync);
        s.endpoint_description = Some("new".into());
        let mut a = attrs("Active", "Connected");
        a.endpoint_description = Some("old".into());
        a.endpoint_name = Some("keep".into());
        assert_eq!(
            next(&s, &a, None, None),
            Next::Act(Step::Update { name: None, description: Some("new".into()) })
        );
    }

    #[test]
    fn ready_only_when_active_and_connected() {
        let (poll, resync) = (Duration::from_secs(30), Duration::from_secs(600));
        let cases = [
            ("Creating", "Pending", "Creating", false, false),
            ("Active", "Pending", reason::AWAITING_APPROVAL, false, false),
            ("Active", "Connecting", "Connecting", false, false),
            ("Active", "Connected", "Available", true, false),
            ("Active", "Disconnected", reason::REJECTED, false, true),
            ("Active", "ServiceDeleted", reason::SERVICE_GONE, false, true),
            ("Pending", "Connected", "Updating", false, false),
        ];
        for (status, conn, want_reason, ready, stalled) in cases {
            let (p, _) = phase(&attrs(status, conn), &Next::InSync, false, poll, resync);
            let reason = match &p {
                Phase::Progressing { reason, .. } | Phase::Failed { reason, .. } => reason.clone(),
                Phase::Available { .. } => "Available".into(),
                Phase::Degraded { reason, .. } => reason.clone(),
            };
            assert_eq!(reason, want_reason, "{status}/{conn}");
            assert_eq!(p.is_ready(), ready, "{status}/{conn}");
            assert_eq!(matches!(p, Phase::Failed { terminal: true, .. }), stalled, "{status}/{conn}");
        }
        let settling = Next::Settling("zone b is Creating".into());
        let (p, w) = phase(&attrs("Active", "Connected"), &settling, false, poll, resync);
        assert!(!p.is_ready(), "a new generation shows Updating until it is in place");
        assert_eq!(w, Wait::Poll);
        // Drift corrected on a Ready endpoint: still Ready, still polled.
        for (status, conn, still) in
            [("Active", "Connected", true), ("Pending", "Connected", true), ("Active", "Disconnected", false)]
        {
            let (p, w) = phase(&attrs(status, conn), &settling, true, poll, resync);
            assert_eq!(p.is_ready(), still, "{status}/{conn}");
            if still {
                assert_eq!(w, Wait::Poll);
            }
        }
    }

    #[test]
    fn teardown_removes_zones_one_by_one_then_deletes() {
        let cases = [
            (
                "Active",
                vec![zone("a", "Connected"), zone("b", "Connected")],
                Teardown::RemoveZone("a".into()),
            ),
            ("Active", vec![zone("a", "Deleting"), zone("b", "Connected")], Teardown::RemoveZone("b".into())),
            ("Active", vec![zone("a", "Deleting")], Teardown::Wait("1 zone(s) being removed".into())),
            ("Active", vec![], Teardown::Delete),
            ("Pending", vec![], Teardown::Wait("endpoint ep-1 is Pending".into())),
            ("Deleting", vec![], Teardown::Wait("endpoint ep-1 is Deleting".into())),
        ];
        for (status, zones, want) in cases {
            assert_eq!(teardown(&attrs(status, "Connected"), &zones), want, "{status} {zones:?}");
        }
    }
}
