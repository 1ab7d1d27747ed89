//! The decisions, as pure functions: from what was observed (the spec, the status, the cloud's
//! answers) to the next step. The async code in this module's siblings only observes, asks, acts and
//! reports; every safety rule is a match arm here and a row in the tests below.
//!
//! Teardown ("the object is being deleted"):
//! - `deletionPolicy: Orphan` is the only way to leave a service behind;
//! - a NotFound is believed only when two reads agree (Get, then the ownership-tag lookup);
//! - while any consumer connection is live (anything but `Disconnected`), nothing is detached or
//!   deleted: the object reports `DeletionBlocked` with the endpoint IDs and finishes by itself once
//!   they are gone;
//! - the service must be `Active` to be changed; backends are detached one at a time, then it is deleted.
//!
//! Sync: a spec edit that drops a backend detaches it only while no live connection uses its zone
//! (`DetachBlocked` otherwise, see [`detach_blockers`]).

use crate::alicloud::{
    ops::ResourceParam,
    vocab::{BusinessStatus, ConnectionStatus, ServiceStatus},
};

/// A connection as observed: endpoint ID, status and the zones it reaches (empty: unknown, so all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    pub endpoint_id: String,
    pub status: ConnectionStatus,
    pub zones: Vec<String>,
}

/// Live connections that a detach of a backend in `zone` would cut (sorted endpoint IDs). A connection
/// whose zones are unknown counts for every zone.
pub fn detach_blockers(connections: &[Connection], zone: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = connections
        .iter()
        .filter(|c| c.status.is_live())
        .filter(|c| c.zones.is_empty() || zone.is_none_or(|z| c.zones.iter().any(|cz| cz == z)))
        .map(|c| c.endpoint_id.clone())
        .collect();
    out.sort();
    out
}

/// The object's service as observed during teardown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// No service ID is recorded and no service carries this object's ownership tag.
    NoneKnown,
    /// Get answered NotFound for the recorded ID; `listed` is what the ownership-tag lookup (the second
    /// read) reports for that same ID, if anything.
    NotFound { listed: Option<ServiceStatus> },
    /// The service exists.
    Present {
        status: ServiceStatus,
        business: BusinessStatus,
        resources: Vec<ResourceParam>,
        connections: Vec<Connection>,
    },
}

/// Why the finalizer may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// `deletionPolicy: Orphan`.
    Orphaned,
    /// No service was ever found for this object.
    NeverCreated,
    /// Alibaba reports the service gone, confirmed by a second read.
    Gone,
}

/// The next teardown step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Teardown {
    /// Remove the finalizer.
    Release(Release),
    /// The two reads disagree (Get says NotFound, the listing still has it): read again later.
    Confirm,
    /// The service is not in a state that takes changes (Creating, Pending, Deleting, unknown): poll.
    Wait(ServiceStatus),
    /// The service is `FinancialLocked` (or another business state): it refuses changes until the
    /// account is settled; look again in minutes.
    Locked(BusinessStatus),
    /// Consumers are connected: detaching or deleting would cut their traffic. Wait for them.
    Blocked { endpoints: Vec<String> },
    /// Detach this backend resource.
    Detach(ResourceParam),
    /// Delete the service.
    Delete,
}

/// Plan the next teardown step.
pub fn teardown(orphan: bool, seen: &Seen) -> Teardown {
    if orphan {
        return Teardown::Release(Release::Orphaned);
    }
    match seen {
        Seen::NoneKnown => Teardown::Release(Release::NeverCreated),
        Seen::NotFound { listed: None } => Teardown::Release(Release::Gone),
        Seen::NotFound { listed: Some(ServiceStatus::Deleting) } => Teardown::Wait(ServiceStatus::Deleting),
        Seen::NotFound { listed: Some(_) } => Teardown::Confirm,
        Seen::Present { status: ServiceStatus::Deleting, .. } => Teardown::Wait(ServiceStatus::Deleting),
        Seen::Present { connections, .. } if connections.iter().any(|c| c.status.is_live()) => {
            Teardown::Blocked { endpoints: detach_blockers(connections, None) }
        }
        Seen::Present { status, .. } if *status != ServiceStatus::Active => Teardown::Wait(status.clone()),
        Seen::Present { business, .. } if *business != BusinessStatus::Normal => {
            Teardown::Locked(business.clone())
        }
        Seen::Present { resources, .. } => match resources.first() {
            Some(r) => Teardown::Detach(r.clone()),
            None => Teardown::Delete,
        },
    }
}

/// The Ready reason and message of a blocked teardown: which endpoints hold the service.
pub fn blocked_message(service_id: &str, endpoints: &[String]) -> String {
    format!(
        "endpoint service {service_id} still has live endpoint connections ({}); nothing is detached or \
         deleted until their owners delete them (or the connections are Disconnected)",
        endpoint_list(endpoints)
    )
}

/// The message of a spec edit whose detach would cut consumers.
pub fn detach_blocked_message(service_id: &str, resource_id: &str, endpoints: &[String]) -> String {
    format!(
        "not detaching {resource_id} from endpoint service {service_id}: live endpoint connections use its zone ({}); \
         it is detached once they are Disconnected or gone",
        endpoint_list(endpoints)
    )
}

fn endpoint_list(endpoints: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut list = endpoints.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if endpoints.len() > SHOWN {
        list.push_str(&format!(" and {} more", endpoints.len() - SHOWN));
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConnectionStatus as C;
    use ServiceStatus as S;

    fn nlb(id: &str) -> ResourceParam {
        ResourceParam {
            resource_type: "nlb".into(),
            resource_id: id.into(),
            zone_id: Some("cn-hangzhou-h".into()),
        }
    }

    fn present(status: S, resources: &[&str], connections: &[(&str, C)]) -> Seen {
        Seen::Present {
            status,
            business: BusinessStatus::Normal,
            resources: resources.iter().map(|r| nlb(r)).collect(),
            connections: connections
                .iter()
                .map(|(e, s)| Connection { endpoint_id: e.to_string(), status: s.clone(), zones: vec![] })
                .collect(),
        }
    }

    #[test]
    fn teardown_table() {
        let cases: Vec<(&str, bool, Seen, Teardown)> = vec![
            (
                "orphan leaves everything",
                true,
                present(S::Active, &["a"], &[("ep-1", C::Connected)]),
                Teardown::Release(Release::Orphaned),
            ),
            ("nothing ever created", false, Seen::NoneKnown, Teardown::Release(Release::NeverCreated)),
            (
                "gone, both reads agree",
                false,
                Seen::NotFound { listed: None },
                Teardown::Release(Release::Gone),
            ),
            (
                "reads disagree: look again",
                false,
                Seen::NotFound { listed: Some(S::Active) },
                Teardown::Confirm,
            ),
            (
                "listing says Deleting",
                false,
                Seen::NotFound { listed: Some(S::Deleting) },
                Teardown::Wait(S::Deleting),
            ),
            ("being deleted", false, present(S::Deleting, &[], &[]), Teardown::Wait(S::Deleting)),
            (
                "connected consumer blocks, resources stay",
                false,
                present(
                    S::Active,
                    &["a"],
                    &[("ep-2", C::Connected), ("ep-1", C::Pending), ("ep-3", C::Disconnected)],
                ),
                Teardown::Blocked { endpoints: vec!["ep-1".into(), "ep-2".into()] },
            ),
            (
                "a consumer mid-transition blocks too",
                false,
                present(S::Pending, &[], &[("ep-1", C::Disconnecting)]),
                Teardown::Blocked { endpoints: vec!["ep-1".into()] },
            ),
            (
                "disconnected consumers do not block",
                false,
                present(S::Active, &["a", "b"], &[("ep-1", C::Disconnected)]),
                Teardown::Detach(nlb("a")),
            ),
            ("not Active: wait", false, present(S::Pending, &["b"], &[]), Teardown::Wait(S::Pending)),
            ("creating: wait", false, present(S::Creating, &["a"], &[]), Teardown::Wait(S::Creating)),
            (
                "unknown state: wait",
                false,
                present(S::Other("Inactive".into()), &[], &[]),
                Teardown::Wait(S::Other("Inactive".into())),
            ),
            ("backends first", false, present(S::Active, &["a", "b"], &[]), Teardown::Detach(nlb("a"))),
            (
                "then the service",
                false,
                present(S::Active, &[], &[("ep-9", C::ServiceDeleted)]),
                Teardown::Delete,
            ),
        ];
        for (name, orphan, seen, want) in cases {
            assert_eq!(teardown(orphan, &seen), want, "{name}");
        }
        let locked = Seen::Present {
            status: S::Active,
            business: BusinessStatus::FinancialLocked,
            resources: vec![],
            connections: vec![],
        };
        assert_eq!(teardown(false, &locked), Teardown::Locked(BusinessStatus::FinancialLocked));
    }

    #[test]
    fn detach_blockers_table() {
        let c = |id: &str, s: C, zones: &[&str]| Connection {
            endpoint_id: id.into(),
            status: s,
            zones: zones.iter().map(|z| z.to_string()).collect(),
        };
        let conns = vec![
            c("ep-h", C::Connected, &["h"]),
            c("ep-i-gone", C::Disconnected, &["i"]),
            c("ep-i-wait", C::Pending, &["i"]),
            c("ep-j-any", C::Connecting, &[]),
        ];
        let cases: Vec<(Option<&str>, Vec<&str>)> = vec![
            (Some("h"), vec!["ep-h", "ep-j-any"]),
            (Some("i"), vec!["ep-i-wait", "ep-j-any"]),
            (Some("k"), vec!["ep-j-any"]),
            (None, vec!["ep-h", "ep-i-wait", "ep-j-any"]),
        ];
        for (zone, want) in cases {
            assert_eq!(detach_blockers(&conns, zone), want, "{zone:?}");
        }
        assert!(detach_blockers(&[c("ep-1", C::Disconnected, &[])], Some("h")).is_empty());
    }

    #[test]
    fn blocked_message_names_the_endpoints() {
        let eps: Vec<String> = (1..=12).map(|i| format!("ep-{i:02}")).collect();
        let m = blocked_message("epsrv-1", &eps);
        assert!(m.contains("ep-01, ep-02") && m.contains("ep-10 and 2 more") && !m.contains("ep-11"), "{m}");
    }
}
