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
//! Sync ("bring an existing service in line with the spec", [`sync`]):
//! - only an `Active`, `Normal` service is changed; anything else waits (minutes for `FinancialLocked`);
//! - one change at a time: attributes, then backends (attach before detach), then tags, then the
//!   resource group; what is not known yet is asked for ([`Sync::Observe`]), so reads stay lazy;
//! - a spec edit that drops a backend detaches it only while no live connection uses its zone
//!   (`DetachBlocked` otherwise, see [`detach_blockers`]);
//! - an attribute update is sent once per spec: if the service reads back differently after it was
//!   accepted, it is reported ([`Sync::NotApplied`]), never written again in a loop;
//! - once Ready, the listings (backends, tags) are checked on a spread schedule ([`drift_checks`]) so
//!   a resync costs one Get plus half a listing on average.

use crate::{
    alicloud::{
        ops::{
            Principal, ResourceParam, ServiceAttributes, ServiceResourceRow, TagParam,
            UpdateVpcEndpointServiceAttribute,
        },
        vocab::{BusinessStatus, ConnectionStatus, ServiceStatus},
    },
    crd::VpcEndpointServiceSpec,
    reconcile::{
        access::{self, Approval},
        create, update,
    },
};

/// A connection as observed: endpoint ID, status, the zones it reaches (empty: unknown, so all), the
/// account that owns the endpoint and the bandwidth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    pub endpoint_id: String,
    pub status: ConnectionStatus,
    pub zones: Vec<String>,
    pub owner: Option<String>,
    pub bandwidth: Option<i64>,
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
    /// `disconnectOnDelete`: disable this endpoint's connection first.
    Disconnect(String),
    /// `disconnectOnDelete`: connections are on their way to `Disconnected`; poll.
    Disconnecting { endpoints: Vec<String> },
    /// Detach this backend resource.
    Detach(ResourceParam),
    /// Delete the service.
    Delete,
}

/// Plan the next teardown step. `disconnect` (`spec.disconnectOnDelete`) lets it disable live
/// connections instead of waiting for their owners.
pub fn teardown(orphan: bool, disconnect: bool, seen: &Seen) -> Teardown {
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
            let endpoints = detach_blockers(connections, None);
            if !disconnect {
                return Teardown::Blocked { endpoints };
            }
            let mut settled: Vec<&Connection> = connections
                .iter()
                .filter(|c| matches!(c.status, ConnectionStatus::Pending | ConnectionStatus::Connected))
                .collect();
            settled.sort_by(|a, b| a.endpoint_id.cmp(&b.endpoint_id));
            match settled.first() {
                Some(c) => Teardown::Disconnect(c.endpoint_id.clone()),
                None => Teardown::Disconnecting { endpoints },
            }
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

/// Listings whose drift is checked on a spread schedule once the object is Ready (attributes and the
/// resource group come with every Get).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DriftChecks {
    /// Re-list backend resources.
    pub resources: bool,
    /// Re-list tags.
    pub tags: bool,
    /// Re-list connections (status, approvals).
    pub connections: bool,
    /// Re-list the whitelist (only when `allowedPrincipals` is set).
    pub users: bool,
}

impl DriftChecks {
    /// Every listing (an object not Ready for its generation).
    pub const ALL: Self = Self { resources: true, tags: true, connections: true, users: true };
    /// A service [`created_as_specified`]: the Create carried its backends and tags, and a new service
    /// has no connections yet, so only the whitelist (not part of Create) is read before the first
    /// Ready; the spread schedule verifies the rest later. Approval lists still read connections.
    pub const AFTER_CREATE: Self = Self { resources: false, tags: false, connections: false, users: true };
}

/// Whether the service is exactly what this object's Create asked for and nothing happened since: the
/// ClientToken persisted for the Create is the one the current spec yields (same parameters), no other
/// spec was ever applied (generation 1), and the object has only been `Creating` since (`Ready` reason;
/// once it was anything else — Available, blocked, an error — every listing is read again). Then reading
/// back its backends and tags right after Create would only repeat the request.
pub fn created_as_specified(
    generation: Option<i64>,
    ready_reason: Option<&str>,
    persisted_token: Option<&str>,
    current_token: &str,
) -> bool {
    generation == Some(1) && ready_reason == Some("Creating") && persisted_token == Some(current_token)
}

/// Resync passes per full drift cycle: each listing is read on one pass in [`DRIFT_CYCLE`], every
/// other pass reads only the Get. Average cloud reads per resync: 1 + 3 / 6 = 1.5 (plus the whitelist
/// on one pass, when `allowedPrincipals` is set).
pub const DRIFT_CYCLE: u64 = 6;

/// Which listings the `pass`-th resync of an object re-reads (`pass` starts at an offset derived from
/// the object, so objects are spread over the cycle).
pub fn drift_checks(pass: u64) -> DriftChecks {
    let none = DriftChecks::default();
    match pass % DRIFT_CYCLE {
        0 => DriftChecks { resources: true, ..none },
        2 => DriftChecks { tags: true, ..none },
        3 => DriftChecks { users: true, ..none },
        4 => DriftChecks { connections: true, ..none },
        _ => none,
    }
}

/// What sync knows. `None`: not read yet (the planner asks for it when it needs it).
#[derive(Clone, Debug)]
pub struct SyncFacts<'a> {
    pub spec: &'a VpcEndpointServiceSpec,
    pub uid: &'a str,
    /// The backends the spec asks for, `serviceRef`s resolved ([`super::backends::resolve`]).
    pub backends: Vec<ResourceParam>,
    /// Whether every `serviceRef` resolved. If not, the list is partial: backends are attached, never
    /// detached (a Service being recreated must not cut its consumers).
    pub backends_complete: bool,
    /// The service as Get reports it.
    pub attrs: ServiceAttributes,
    /// Which listings to check: [`DriftChecks::ALL`] until Ready for the generation, then the
    /// schedule's.
    pub checks: DriftChecks,
    /// The attribute update already accepted for this spec, if any (never sent twice).
    pub sent_update: Option<UpdateVpcEndpointServiceAttribute>,
    pub resources: Option<Vec<ServiceResourceRow>>,
    pub tags: Option<Vec<TagParam>>,
    pub connections: Option<Vec<Connection>>,
    pub users: Option<Vec<Principal>>,
}

/// A read the planner needs before it can decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    Resources,
    Tags,
    Connections,
    Users,
}

/// The next sync step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sync {
    /// Not Active: wait for the cloud (poll).
    Wait(ServiceStatus),
    /// `FinancialLocked` (or another business state): refuses changes; look again in minutes.
    Locked(BusinessStatus),
    /// Read this first.
    Observe(Read),
    /// Send this attribute update.
    Update(UpdateVpcEndpointServiceAttribute),
    /// Attach a backend.
    Attach(ResourceParam),
    /// Detach a backend the spec no longer lists.
    Detach(ResourceParam),
    /// The detach would cut these consumers: not done.
    DetachBlocked { resource: ResourceParam, endpoints: Vec<String> },
    /// Remove these tag keys.
    Untag(Vec<String>),
    /// Set these tags.
    Tag(Vec<TagParam>),
    /// Move the service to this resource group.
    ChangeResourceGroup(String),
    /// Allow this principal (`allowedPrincipals`).
    AddUser(Principal),
    /// No longer allow this principal.
    RemoveUser(Principal),
    /// Accept or reject a connection (`connectionApproval`).
    Approve(Approval),
    /// Everything else is in sync, but this update was accepted and still does not read back.
    NotApplied(UpdateVpcEndpointServiceAttribute),
    /// Nothing to do.
    InSync,
}

impl Sync {
    /// Whether the step sends the service through `Pending` (the next look is a poll), rather than
    /// taking effect at once (tags, resource group: planning goes on in the same pass).
    pub fn settles_later(&self) -> bool {
        matches!(self, Sync::Update(_) | Sync::Attach(_) | Sync::Detach(_))
    }
}

/// Plan the next sync step for an existing service.
pub fn sync(f: &SyncFacts<'_>) -> Sync {
    let status = f.attrs.status();
    if status != ServiceStatus::Active {
        return Sync::Wait(status);
    }
    let business = f.attrs.business_status();
    if business != BusinessStatus::Normal {
        return Sync::Locked(business);
    }
    let mut pending_update = update::diff_attributes(f.spec, &f.attrs);
    if !pending_update.is_empty() {
        if f.sent_update.as_ref() != Some(&pending_update) {
            return Sync::Update(pending_update);
        }
    } else {
        pending_update = UpdateVpcEndpointServiceAttribute::default();
    }
    if f.checks.resources {
        let Some(actual) = &f.resources else { return Sync::Observe(Read::Resources) };
        match update::next_resource_change(&f.backends, actual) {
            Some(update::ResourceChange::Attach(r)) => return Sync::Attach(r),
            Some(update::ResourceChange::Detach(_)) if !f.backends_complete => {}
            Some(update::ResourceChange::Detach(r)) => {
                let Some(connections) = &f.connections else { return Sync::Observe(Read::Connections) };
                let endpoints = detach_blockers(connections, r.zone_id.as_deref());
                if endpoints.is_empty() {
                    return Sync::Detach(r);
                }
                return Sync::DetachBlocked { resource: r, endpoints };
            }
            None => {}
        }
    }
    if f.checks.tags {
        let Some(actual) = &f.tags else { return Sync::Observe(Read::Tags) };
        let (set, remove) = update::diff_tags(&create::desired_tags(f.spec, f.uid), actual);
        if !remove.is_empty() {
            return Sync::Untag(remove);
        }
        if !set.is_empty() {
            return Sync::Tag(set);
        }
    }
    if let Some(rg) = &f.spec.resource_group_id
        && f.attrs.resource_group_id.as_ref() != Some(rg)
    {
        return Sync::ChangeResourceGroup(rg.clone());
    }
    if let Some(desired) = access::desired_principals(f.spec)
        && f.checks.users
    {
        let Some(actual) = &f.users else { return Sync::Observe(Read::Users) };
        let (add, remove) = access::principal_changes(&desired, actual);
        if let Some(p) = add.into_iter().next() {
            return Sync::AddUser(p);
        }
        if let Some(p) = remove.into_iter().next() {
            return Sync::RemoveUser(p);
        }
    }
    let approval = f.spec.connection_approval.as_ref().filter(|a| !a.is_empty());
    if f.checks.connections || approval.is_some() || f.connections.is_some() {
        let Some(connections) = &f.connections else { return Sync::Observe(Read::Connections) };
        if let Some(a) = access::approvals(approval, connections).into_iter().next() {
            return Sync::Approve(a);
        }
    }
    if pending_update.is_empty() { Sync::InSync } else { Sync::NotApplied(pending_update) }
}

/// Fold the effect of a step that takes effect at once into the facts, so planning can go on without
/// reading again.
pub fn applied(f: &mut SyncFacts<'_>, step: &Sync) {
    match step {
        Sync::Untag(keys) => {
            if let Some(tags) = f.tags.as_mut() {
                tags.retain(|t| !keys.contains(&t.key));
            }
        }
        Sync::Tag(set) => {
            if let Some(tags) = f.tags.as_mut() {
                tags.retain(|t| !set.iter().any(|s| s.key == t.key));
                tags.extend(set.iter().cloned());
            }
        }
        Sync::ChangeResourceGroup(rg) => f.attrs.resource_group_id = Some(rg.clone()),
        Sync::AddUser(p) => f.users.get_or_insert_default().push(p.clone()),
        Sync::RemoveUser(p) => f.users.get_or_insert_default().retain(|u| u != p),
        Sync::Approve(a) => {
            if let Some(connections) = f.connections.as_mut() {
                access::fold(connections, a);
            }
        }
        _ => {}
    }
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

    fn conn(id: &str, status: C, zones: &[&str]) -> Connection {
        Connection {
            endpoint_id: id.into(),
            status,
            zones: zones.iter().map(|z| z.to_string()).collect(),
            owner: Some("2234567890123456".into()),
            bandwidth: None,
        }
    }

    fn present(status: S, resources: &[&str], connections: &[(&str, C)]) -> Seen {
        Seen::Present {
            status,
            business: BusinessStatus::Normal,
            resources: resources.iter().map(|r| nlb(r)).collect(),
            connections: connections.iter().map(|(e, s)| conn(e, s.clone(), &[])).collect(),
        }
    }

    #[test]
    fn teardown_table() {
        let cases: Vec<(&str, bool, Seen, Teardown)> = vec![
            (
                "disconnectOnDelete: disable the first settled connection",
                true,
                present(S::Active, &["a"], &[("ep-2", C::Connected), ("ep-1", C::Pending)]),
                Teardown::Disconnect("ep-1".into()),
            ),
            (
                "disconnectOnDelete: connections on their way out, poll",
                true,
                present(S::Active, &["a"], &[("ep-1", C::Disconnecting), ("ep-2", C::Disconnected)]),
                Teardown::Disconnecting { endpoints: vec!["ep-1".into()] },
            ),
            (
                "disconnectOnDelete: all Disconnected, detach as usual",
                true,
                present(S::Active, &["a"], &[("ep-1", C::Disconnected)]),
                Teardown::Detach(nlb("a")),
            ),
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
        for (name, flag, seen, want) in cases {
            // The flag column is `orphan` for the rows below and `disconnect` for the rows above.
            let disconnect = name.starts_with("disconnectOnDelete");
            let orphan = flag && !disconnect;
            assert_eq!(teardown(orphan, disconnect, &seen), want, "{name}");
        }
        // Without the flag, a live connection always blocks.
        let live = present(S::Active, &["a"], &[("ep-1", C::Connected)]);
        assert_eq!(teardown(false, false, &live), Teardown::Blocked { endpoints: vec!["ep-1".into()] });
        // Orphan wins over disconnectOnDelete: nothing is cut.
        assert_eq!(teardown(true, true, &live), Teardown::Release(Release::Orphaned));
        let locked = Seen::Present {
            status: S::Active,
            business: BusinessStatus::FinancialLocked,
            resources: vec![],
            connections: vec![],
        };
        assert_eq!(teardown(false, false, &locked), Teardown::Locked(BusinessStatus::FinancialLocked));
    }

    #[test]
    fn detach_blockers_table() {
        let c = conn;
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

    fn active() -> ServiceAttributes {
        ServiceAttributes {
            service_id: "epsrv-1".into(),
            service_status: Some("Active".into()),
            service_business_status: Some("Normal".into()),
            ..Default::default()
        }
    }

    fn row(id: &str) -> ServiceResourceRow {
        ServiceResourceRow {
            resource_id: id.into(),
            resource_type: "nlb".into(),
            zone_id: Some("cn-hangzhou-h".into()),
        }
    }

    fn tag(k: &str, v: &str) -> TagParam {
        TagParam { key: k.into(), value: v.into() }
    }

    fn owner() -> TagParam {
        tag(crate::crd::OWNER_TAG_KEY, "uid-1")
    }

    fn described(d: &str) -> UpdateVpcEndpointServiceAttribute {
        UpdateVpcEndpointServiceAttribute { service_description: Some(d.into()), ..Default::default() }
    }

    #[test]
    fn sync_table() {
        let obj = crate::fixtures::service("svc", "uid-1");
        let mut spec = obj.spec.clone();
        spec.service_description = Some("new".into());
        spec.tags = vec![crate::crd::Tag { key: "team".into(), value: "a".into() }];
        spec.resource_group_id = Some("rg-1".into());
        // Everything in line with `spec`: the base row every case edits.
        let mut attrs = active();
        attrs.service_description = Some("new".into());
        attrs.resource_group_id = Some("rg-1".into());
        let base = SyncFacts {
            spec: &spec,
            uid: "uid-1",
            backends: create::desired_resources(&spec),
            backends_complete: true,
            attrs,
            checks: DriftChecks::ALL,
            sent_update: None,
            resources: Some(vec![row("nlb-sim-001")]),
            tags: Some(vec![tag("team", "a"), owner()]),
            connections: Some(vec![]),
            users: None,
        };
        type Edit = fn(&mut SyncFacts<'_>);
        let cases: Vec<(&str, Edit, Sync)> = vec![
            ("in sync", |_| {}, Sync::InSync),
            ("creating: wait", |f| f.attrs.service_status = Some("Creating".into()), Sync::Wait(S::Creating)),
            (
                "pending after an update: wait",
                |f| f.attrs.service_status = Some("Pending".into()),
                Sync::Wait(S::Pending),
            ),
            (
                "financially locked: no change, look again later",
                |f| {
                    f.attrs.service_business_status = Some("FinancialLocked".into());
                    f.attrs.service_description = Some("old".into());
                },
                Sync::Locked(BusinessStatus::FinancialLocked),
            ),
            (
                "attribute drift: update",
                |f| f.attrs.service_description = Some("old".into()),
                Sync::Update(described("new")),
            ),
            (
                "the same update already accepted: not sent again",
                |f| {
                    f.attrs.service_description = Some("old".into());
                    f.sent_update = Some(described("new"));
                },
                Sync::NotApplied(described("new")),
            ),
            (
                "a different edit after an accepted update: sent",
                |f| {
                    f.attrs.service_description = Some("old".into());
                    f.sent_update = Some(described("older"));
                },
                Sync::Update(described("new")),
            ),
            (
                "not applied waits for the listings to be fixed first",
                |f| {
                    f.attrs.service_description = Some("old".into());
                    f.sent_update = Some(described("new"));
                    f.tags = Some(vec![owner()]);
                },
                Sync::Tag(vec![tag("team", "a")]),
            ),
            ("backends unknown: list them", |f| f.resources = None, Sync::Observe(Read::Resources)),
            (
                "backends not due (Ready, drift schedule): not listed",
                |f| {
                    f.resources = None;
                    f.checks = DriftChecks { tags: true, ..DriftChecks::default() };
                },
                Sync::InSync,
            ),
            ("missing backend: attach", |f| f.resources = Some(vec![]), Sync::Attach(nlb("nlb-sim-001"))),
            (
                "attach before detach",
                |f| f.resources = Some(vec![row("nlb-old")]),
                Sync::Attach(nlb("nlb-sim-001")),
            ),
            (
                "extra backend: connections are read first",
                |f| {
                    f.resources = Some(vec![row("nlb-sim-001"), row("nlb-old")]);
                    f.connections = None;
                },
                Sync::Observe(Read::Connections),
            ),
            (
                "extra backend, no live consumer: detach",
                |f| {
                    f.resources = Some(vec![row("nlb-sim-001"), row("nlb-old")]);
                    f.connections = Some(vec![conn("ep-1", C::Disconnected, &[])]);
                },
                Sync::Detach(nlb("nlb-old")),
            ),
            (
                "extra backend, live consumer in its zone: blocked",
                |f| {
                    f.resources = Some(vec![row("nlb-sim-001"), row("nlb-old")]);
                    f.connections = Some(vec![conn("ep-1", C::Connected, &["cn-hangzhou-h"])]);
                },
                Sync::DetachBlocked { resource: nlb("nlb-old"), endpoints: vec!["ep-1".into()] },
            ),
            (
                "a referenced Service lost its load balancer: nothing is detached",
                |f| {
                    f.resources = Some(vec![row("nlb-sim-001"), row("nlb-old")]);
                    f.connections = Some(vec![]);
                    f.backends_complete = false;
                },
                Sync::InSync,
            ),
            (
                "a referenced Service moved to a new load balancer: the new one is attached first",
                |f| {
                    f.backends = vec![nlb("nlb-new")];
                    f.connections = Some(vec![]);
                },
                Sync::Attach(nlb("nlb-new")),
            ),
            (
                "partial backends still attach what resolved",
                |f| {
                    f.backends = vec![nlb("nlb-sim-001"), nlb("nlb-new")];
                    f.backends_complete = false;
                },
                Sync::Attach(nlb("nlb-new")),
            ),
            (
                "the new load balancer attached: the old one goes",
                |f| {
                    f.backends = vec![nlb("nlb-new")];
                    f.resources = Some(vec![row("nlb-sim-001"), row("nlb-new")]);
                    f.connections = Some(vec![]);
                },
                Sync::Detach(nlb("nlb-sim-001")),
            ),
            ("tags unknown: list them", |f| f.tags = None, Sync::Observe(Read::Tags)),
            (
                "tags not due: not listed",
                |f| {
                    f.tags = None;
                    f.checks = DriftChecks { resources: true, ..DriftChecks::default() };
                },
                Sync::InSync,
            ),
            (
                "foreign tag key removed first",
                |f| f.tags = Some(vec![tag("team", "a"), tag("stray", "x"), owner()]),
                Sync::Untag(vec!["stray".into()]),
            ),
            (
                "changed tag value: set",
                |f| f.tags = Some(vec![tag("team", "b"), owner()]),
                Sync::Tag(vec![tag("team", "a")]),
            ),
            (
                "lost ownership tag restored",
                |f| f.tags = Some(vec![tag("team", "a")]),
                Sync::Tag(vec![owner()]),
            ),
            (
                "resource group drift, checked on every pass (it comes with Get)",
                |f| {
                    f.attrs.resource_group_id = Some("rg-other".into());
                    f.checks = DriftChecks::default();
                },
                Sync::ChangeResourceGroup("rg-1".into()),
            ),
            ("connections unknown: list them", |f| f.connections = None, Sync::Observe(Read::Connections)),
            (
                "connections not due and no lists: not listed",
                |f| {
                    f.connections = None;
                    f.checks = DriftChecks::default();
                },
                Sync::InSync,
            ),
        ];
        for (name, edit, want) in cases {
            let mut f = base.clone();
            edit(&mut f);
            assert_eq!(sync(&f), want, "{name}");
        }
    }

    #[test]
    fn a_sync_pass_runs_to_in_sync_without_reading_again() {
        let obj = crate::fixtures::service("svc", "uid-1");
        let mut spec = obj.spec.clone();
        spec.tags = vec![crate::crd::Tag { key: "team".into(), value: "a".into() }];
        spec.resource_group_id = Some("rg-1".into());
        spec.allowed_principals = Some(vec!["2234567890123456".into()]);
        spec.connection_approval = Some(crate::crd::ConnectionApproval {
            accept_from: vec!["2234567890123456".into()],
            reject_from: vec!["3234567890123456".into()],
        });
        let mut f = SyncFacts {
            spec: &spec,
            uid: "uid-1",
            backends: create::desired_resources(&spec),
            backends_complete: true,
            attrs: active(),
            checks: DriftChecks::ALL,
            sent_update: None,
            resources: Some(vec![row("nlb-sim-001")]),
            tags: Some(vec![tag("stray", "x")]),
            connections: Some(vec![
                conn("ep-a", C::Pending, &[]),
                Connection { owner: Some("3234567890123456".into()), ..conn("ep-r", C::Connected, &[]) },
            ]),
            users: Some(vec![Principal::Account(9234567890123456)]),
        };
        let mut steps = vec![];
        loop {
            let step = sync(&f);
            if step == Sync::InSync || steps.len() > 10 {
                break;
            }
            assert!(!step.settles_later(), "{step:?}");
            applied(&mut f, &step);
            steps.push(step);
        }
        assert_eq!(
            steps,
            vec![
                Sync::Untag(vec!["stray".into()]),
                Sync::Tag(vec![owner(), tag("team", "a")]),
                Sync::ChangeResourceGroup("rg-1".into()),
                Sync::AddUser(Principal::Account(2234567890123456)),
                Sync::RemoveUser(Principal::Account(9234567890123456)),
                Sync::Approve(Approval::Enable("ep-a".into())),
                Sync::Approve(Approval::Disable("ep-r".into())),
            ]
        );
    }

    #[test]
    fn whitelist_and_approvals_in_sync() {
        let obj = crate::fixtures::service("svc", "uid-1");
        let mut spec = obj.spec.clone();
        spec.allowed_principals = Some(vec!["2234567890123456".into()]);
        spec.connection_approval = Some(crate::crd::ConnectionApproval {
            accept_from: vec!["2234567890123456".into()],
            reject_from: vec![],
        });
        let f = SyncFacts {
            spec: &spec,
            uid: "uid-1",
            backends: create::desired_resources(&spec),
            backends_complete: true,
            attrs: active(),
            checks: DriftChecks::default(),
            sent_update: None,
            resources: None,
            tags: None,
            connections: None,
            users: None,
        };
        // Approval lists: connections are read on every pass; the whitelist only when due.
        assert_eq!(sync(&f), Sync::Observe(Read::Connections));
        let due = SyncFacts { checks: DriftChecks { users: true, ..DriftChecks::default() }, ..f.clone() };
        assert_eq!(sync(&due), Sync::Observe(Read::Users));
        let listed = SyncFacts { users: Some(vec![Principal::Account(2234567890123456)]), ..due.clone() };
        assert_eq!(sync(&listed), Sync::Observe(Read::Connections));
        let done = SyncFacts { connections: Some(vec![conn("ep-1", C::Connected, &[])]), ..listed.clone() };
        assert_eq!(sync(&done), Sync::InSync);
        let pending = SyncFacts { connections: Some(vec![conn("ep-1", C::Pending, &[])]), ..listed };
        assert_eq!(sync(&pending), Sync::Approve(Approval::Enable("ep-1".into())));
    }

    #[test]
    fn drift_schedule_reads_each_listing_once_per_cycle() {
        let passes: Vec<DriftChecks> = (0..DRIFT_CYCLE * 3).map(drift_checks).collect();
        let resources = passes.iter().filter(|c| c.resources).count() as u64;
        let tags = passes.iter().filter(|c| c.tags).count() as u64;
        let connections = passes.iter().filter(|c| c.connections).count() as u64;
        let users = passes.iter().filter(|c| c.users).count() as u64;
        assert_eq!((resources, tags, connections, users), (3, 3, 3, 3), "each listing once per cycle");
        let one_at_most = |c: &DriftChecks| {
            [c.resources, c.tags, c.connections, c.users].iter().filter(|b| **b).count() <= 1
        };
        assert!(passes.iter().all(one_at_most), "never two listings on one pass");
        // The whitelist is read only for objects with allowedPrincipals; without, 1.5 reads per resync.
        let reads_per_resync = 1.0 + (resources + tags + connections) as f64 / passes.len() as f64;
        assert!(reads_per_resync <= 1.5, "{reads_per_resync}");
    }

    #[test]
    fn created_as_specified_table() {
        let c = Some("Creating");
        let cases = [
            (Some(1), c, Some("t"), "t", true),
            // An edit after Create (or an edit and a revert): another spec may have been applied.
            (Some(2), c, Some("t"), "t", false),
            // The spec differs from the Create's (a lost answer, then an edit).
            (Some(1), c, Some("t"), "u", false),
            // Adopted, restored or created before tokens were persisted: nothing is known.
            (Some(1), c, None, "t", false),
            (None, c, Some("t"), "t", false),
            // Ready once, or blocked, or an error on the way: drift may be what it is about.
            (Some(1), Some("Available"), Some("t"), "t", false),
            (Some(1), Some("DetachBlocked"), Some("t"), "t", false),
            (Some(1), Some("ThrottlingUser"), Some("t"), "t", false),
            (Some(1), None, Some("t"), "t", false),
        ];
        for (generation, reason, persisted, current, want) in cases {
            let got = created_as_specified(generation, reason, persisted, current);
            assert_eq!(got, want, "{generation:?} {reason:?} {persisted:?} {current}");
        }
    }

    #[test]
    fn blocked_message_names_the_endpoints() {
        let eps: Vec<String> = (1..=12).map(|i| format!("ep-{i:02}")).collect();
        let m = blocked_message("epsrv-1", &eps);
        assert!(m.contains("ep-01, ep-02") && m.contains("ep-10 and 2 more") && !m.contains("ep-11"), "{m}");
    }
}
