//! Who may connect and which connections are accepted, as pure functions: the whitelist diff
//! (`spec.allowedPrincipals`), the approval decisions (`spec.connectionApproval`), the connection rows
//! and counts written to status, the events a change of connections raises, and whether a service
//! needs the connection poll between resyncs.

use std::collections::BTreeMap;

use crate::{
    alicloud::{ops::Principal, vocab::ConnectionStatus},
    crd::{ConnectionApproval, EndpointConnection, VpcEndpointServiceSpec},
    reconcile::plan::Connection,
};

/// Rows of `status.connections` (the counts cover every connection).
pub const STATUS_ROWS: usize = 50;

/// The whitelist the spec asks for, or `None` when the operator leaves it alone.
pub fn desired_principals(spec: &VpcEndpointServiceSpec) -> Option<Vec<Principal>> {
    let mut out: Vec<Principal> =
        spec.allowed_principals.as_ref()?.iter().map(|p| Principal::parse(p)).collect();
    out.sort();
    out.dedup();
    Some(out)
}

/// What to add and what to remove so that `actual` becomes `desired` (sorted). Additions come first in
/// the sync order, so replacing one principal by another never leaves both out.
pub fn principal_changes(desired: &[Principal], actual: &[Principal]) -> (Vec<Principal>, Vec<Principal>) {
    let add = desired.iter().filter(|p| !actual.contains(p)).cloned().collect();
    let mut remove: Vec<Principal> = actual.iter().filter(|p| !desired.contains(p)).cloned().collect();
    remove.sort();
    (add, remove)
}

/// What the approval lists say about one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Reject,
    /// Neither list names it: left alone (or to `autoAcceptEnabled`).
    Unlisted,
}

/// The verdict for an endpoint and its owner: an entry naming the endpoint wins over one naming its
/// account.
pub fn verdict(approval: &ConnectionApproval, endpoint_id: &str, owner: Option<&str>) -> Verdict {
    let names = |list: &[String], what: &str| list.iter().any(|e| e == what);
    if names(&approval.reject_from, endpoint_id) {
        return Verdict::Reject;
    }
    if names(&approval.accept_from, endpoint_id) {
        return Verdict::Accept;
    }
    match owner {
        Some(o) if names(&approval.reject_from, o) => Verdict::Reject,
        Some(o) if names(&approval.accept_from, o) => Verdict::Accept,
        _ => Verdict::Unlisted,
    }
}

/// A provider decision on one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Approval {
    /// `EnableVpcEndpointConnection`.
    Enable(String),
    /// `DisableVpcEndpointConnection`.
    Disable(String),
}

impl Approval {
    pub fn endpoint_id(&self) -> &str {
        match self {
            Approval::Enable(e) | Approval::Disable(e) => e,
        }
    }
}

/// The decisions the lists ask for, in endpoint ID order. Pending from `acceptFrom` → enable;
/// Pending or Connected from `rejectFrom` → disable. A connection in transition (Connecting,
/// Disconnecting) is decided once it settles (the poll keeps looking).
pub fn approvals(approval: Option<&ConnectionApproval>, connections: &[Connection]) -> Vec<Approval> {
    let Some(approval) = approval.filter(|a| !a.is_empty()) else { return vec![] };
    let mut out: Vec<Approval> = connections
        .iter()
        .filter_map(|c| match (verdict(approval, &c.endpoint_id, c.owner.as_deref()), &c.status) {
            (Verdict::Accept, ConnectionStatus::Pending) => Some(Approval::Enable(c.endpoint_id.clone())),
            (Verdict::Reject, ConnectionStatus::Pending | ConnectionStatus::Connected) => {
                Some(Approval::Disable(c.endpoint_id.clone()))
            }
            _ => None,
        })
        .collect();
    out.sort_by(|a, b| a.endpoint_id().cmp(b.endpoint_id()));
    out
}

/// The effect of a sent decision on the listed connections: Connecting or Disconnecting.
pub fn fold(connections: &mut [Connection], a: &Approval) {
    let status = match a {
        Approval::Enable(_) => ConnectionStatus::Connecting,
        Approval::Disable(_) => ConnectionStatus::Disconnecting,
    };
    for c in connections.iter_mut().filter(|c| c.endpoint_id == a.endpoint_id()) {
        c.status = status.clone();
    }
}

/// A connection state that is still moving (or waits for a decision): polled between resyncs.
fn unsettled(s: &ConnectionStatus) -> bool {
    !matches!(
        s,
        ConnectionStatus::Connected | ConnectionStatus::Disconnected | ConnectionStatus::ServiceDeleted
    )
}

/// Whether the service is polled for connections between resyncs: it has approval lists, or a
/// connection that is not settled (Pending, Connecting, Disconnecting, Deleting, unknown).
pub fn needs_poll(
    spec: &VpcEndpointServiceSpec,
    statuses: impl IntoIterator<Item = ConnectionStatus>,
) -> bool {
    spec.connection_approval.as_ref().is_some_and(|a| !a.is_empty())
        || statuses.into_iter().any(|s| unsettled(&s))
}

/// `status.connections` (first [`STATUS_ROWS`] by endpoint ID) and `status.connectionCounts`.
pub fn status_rows(connections: &[Connection]) -> (Vec<EndpointConnection>, BTreeMap<String, i64>) {
    let mut counts = BTreeMap::new();
    for c in connections {
        *counts.entry(c.status.as_str().to_string()).or_insert(0) += 1;
    }
    let mut rows: Vec<EndpointConnection> = connections
        .iter()
        .map(|c| EndpointConnection {
            endpoint_id: c.endpoint_id.clone(),
            endpoint_owner_id: c.owner.clone(),
            status: c.status.as_str().to_string(),
            bandwidth: c.bandwidth,
            zones: c.zones.clone(),
        })
        .collect();
    rows.sort_by(|a, b| a.endpoint_id.cmp(&b.endpoint_id));
    rows.truncate(STATUS_ROWS);
    (rows, counts)
}

/// An event about a connection: (reason, note).
pub type Note = (&'static str, String);

/// The events of one look at the connections: a connection newly `Pending`, one accepted or rejected
/// by the lists, one newly `Disconnected`. `before` is the previous `status.connections`.
pub fn events(before: &[EndpointConnection], now: &[Connection], decided: &[Approval]) -> Vec<Note> {
    let was = |id: &str| before.iter().find(|b| b.endpoint_id == id).map(|b| b.status.as_str());
    let owner = |c: &Connection| c.owner.as_deref().map(|o| format!(" of account {o}")).unwrap_or_default();
    let mut out = Vec::new();
    for c in now {
        let id = &c.endpoint_id;
        let decision = decided.iter().find(|d| d.endpoint_id() == id);
        match (&c.status, was(id), decision) {
            (_, _, Some(Approval::Enable(_))) => out.push((
                "ConnectionAccepted",
                format!("accepted the connection of endpoint {id}{} (acceptFrom)", owner(c)),
            )),
            (_, _, Some(Approval::Disable(_))) => out.push((
                "ConnectionRejected",
                format!("rejected the connection of endpoint {id}{} (rejectFrom)", owner(c)),
            )),
            (ConnectionStatus::Pending, w, None) if w != Some("Pending") => {
                out.push(("ConnectionPending", format!("endpoint {id}{} requests a connection", owner(c))))
            }
            (ConnectionStatus::Disconnected, Some(w), None) if w != "Disconnected" => out.push((
                "ConnectionDisconnected",
                format!("the connection of endpoint {id}{} is Disconnected", owner(c)),
            )),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConnectionStatus as C;

    const B: &str = "2234567890123456";
    const D: &str = "3234567890123456";

    fn conn(id: &str, owner: &str, status: C) -> Connection {
        Connection {
            endpoint_id: id.into(),
            status,
            zones: vec![],
            owner: Some(owner.into()),
            bandwidth: None,
        }
    }

    fn lists(accept: &[&str], reject: &[&str]) -> ConnectionApproval {
        ConnectionApproval {
            accept_from: accept.iter().map(|s| s.to_string()).collect(),
            reject_from: reject.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn verdict_table() {
        let cases = [
            (lists(&[B], &[]), "ep-1", B, Verdict::Accept),
            (lists(&[], &[B]), "ep-1", B, Verdict::Reject),
            (lists(&[B], &[]), "ep-1", D, Verdict::Unlisted),
            // The endpoint entry wins over its account's entry, both ways.
            (lists(&[B], &["ep-1"]), "ep-1", B, Verdict::Reject),
            (lists(&["ep-1"], &[B]), "ep-1", B, Verdict::Accept),
            (lists(&["ep-1"], &[B]), "ep-2", B, Verdict::Reject),
        ];
        for (l, ep, owner, want) in cases {
            assert_eq!(verdict(&l, ep, Some(owner)), want, "{l:?} {ep} {owner}");
        }
        assert_eq!(verdict(&lists(&[B], &[]), "ep-1", None), Verdict::Unlisted);
    }

    #[test]
    fn approvals_table() {
        let cases: Vec<(ConnectionApproval, Connection, Option<Approval>)> = vec![
            (lists(&[B], &[]), conn("ep-1", B, C::Pending), Some(Approval::Enable("ep-1".into()))),
            (lists(&[B], &[]), conn("ep-1", B, C::Connected), None),
            (lists(&[B], &[]), conn("ep-1", B, C::Disconnected), None),
            (lists(&[B], &[]), conn("ep-1", D, C::Pending), None),
            (lists(&[], &[B]), conn("ep-1", B, C::Pending), Some(Approval::Disable("ep-1".into()))),
            // A reject list cuts a connected consumer off: that is what it is for.
            (lists(&[], &[B]), conn("ep-1", B, C::Connected), Some(Approval::Disable("ep-1".into()))),
            (lists(&[], &[B]), conn("ep-1", B, C::Connecting), None),
            (lists(&[], &[B]), conn("ep-1", B, C::Disconnecting), None),
            (lists(&[], &[B]), conn("ep-1", B, C::Disconnected), None),
            (lists(&[], &[]), conn("ep-1", B, C::Pending), None),
        ];
        for (l, c, want) in cases {
            assert_eq!(approvals(Some(&l), std::slice::from_ref(&c)).first(), want.as_ref(), "{l:?} {c:?}");
        }
        assert!(approvals(None, &[conn("ep-1", B, C::Pending)]).is_empty());
    }

    #[test]
    fn principals_diff_adds_before_it_removes() {
        let spec = |list: &[&str]| VpcEndpointServiceSpec {
            allowed_principals: Some(list.iter().map(|s| s.to_string()).collect()),
            ..serde_json::from_value(serde_json::json!({"regionId": "cn-hangzhou"})).unwrap()
        };
        let arn = "acs:ram:*:3234567890123456:*";
        let desired = desired_principals(&spec(&[B, arn, B])).unwrap();
        assert_eq!(desired, vec![Principal::Account(B.parse().unwrap()), Principal::Arn(arn.into())]);
        let actual = vec![Principal::Account(D.parse().unwrap()), Principal::Account(B.parse().unwrap())];
        let (add, remove) = principal_changes(&desired, &actual);
        assert_eq!(add, vec![Principal::Arn(arn.into())]);
        assert_eq!(remove, vec![Principal::Account(D.parse().unwrap())]);
        let mut absent = spec(&[]);
        absent.allowed_principals = None;
        assert_eq!(desired_principals(&absent), None, "no list: the whitelist is left alone");
        assert_eq!(desired_principals(&spec(&[])), Some(vec![]), "an empty list empties it");
    }

    #[test]
    fn poll_only_with_lists_or_unsettled_connections() {
        let mut spec: VpcEndpointServiceSpec =
            serde_json::from_value(serde_json::json!({"regionId": "cn-hangzhou"})).unwrap();
        let settled = || [C::Connected, C::Disconnected, C::ServiceDeleted];
        assert!(!needs_poll(&spec, settled()));
        assert!(!needs_poll(&spec, []));
        for moving in [C::Pending, C::Connecting, C::Disconnecting, C::Deleting, C::Other("Migrating".into())]
        {
            assert!(needs_poll(&spec, [C::Connected, moving.clone()]), "{moving:?}");
        }
        spec.connection_approval = Some(lists(&[], &[]));
        assert!(!needs_poll(&spec, settled()), "empty lists are no lists");
        spec.connection_approval = Some(lists(&[B], &[]));
        assert!(needs_poll(&spec, settled()));
    }

    #[test]
    fn status_rows_are_bounded_and_counted() {
        let many: Vec<Connection> = (0..60)
            .map(|i| conn(&format!("ep-{i:03}"), B, if i % 3 == 0 { C::Pending } else { C::Connected }))
            .collect();
        let (rows, counts) = status_rows(&many);
        assert_eq!(rows.len(), STATUS_ROWS);
        assert_eq!(rows[0].endpoint_id, "ep-000");
        assert_eq!((counts["Pending"], counts["Connected"]), (20, 40));
    }

    #[test]
    fn events_table() {
        let before = |status: &str| {
            vec![EndpointConnection {
                endpoint_id: "ep-1".into(),
                status: status.into(),
                ..Default::default()
            }]
        };
        type Case = (Vec<EndpointConnection>, C, Vec<Approval>, Option<&'static str>);
        let cases: Vec<Case> = vec![
            (vec![], C::Pending, vec![], Some("ConnectionPending")),
            (before("Pending"), C::Pending, vec![], None),
            (before("Disconnected"), C::Pending, vec![], Some("ConnectionPending")),
            (
                before("Pending"),
                C::Pending,
                vec![Approval::Enable("ep-1".into())],
                Some("ConnectionAccepted"),
            ),
            (
                before("Connected"),
                C::Connected,
                vec![Approval::Disable("ep-1".into())],
                Some("ConnectionRejected"),
            ),
            (before("Disconnecting"), C::Disconnected, vec![], Some("ConnectionDisconnected")),
            (before("Disconnected"), C::Disconnected, vec![], None),
            (vec![], C::Disconnected, vec![], None),
            (before("Connecting"), C::Connected, vec![], None),
        ];
        for (b, status, decided, want) in cases {
            let got = events(&b, &[conn("ep-1", B, status.clone())], &decided);
            assert_eq!(got.first().map(|e| e.0), want, "{b:?} {status:?} {decided:?}");
            if let Some(e) = got.first() {
                assert!(e.1.contains("ep-1") && e.1.contains(B), "{}", e.1);
            }
        }
    }
}
