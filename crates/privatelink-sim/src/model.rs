//! In-memory resources and their lazily computed state machines.
//!
//! Every transitional status stores a deadline; reading the object past it moves it on
//! (`Creating`/`Pending` → `Active`, `Deleting` → gone, `Connecting` → `Connected`, ...). No timers
//! run, so idle objects cost nothing.

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::world::AccessKey;

/// Operation durations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    pub create: Duration,
    pub update: Duration,
    pub delete: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            create: Duration::from_secs(2),
            update: Duration::from_secs(1),
            delete: Duration::from_secs(2),
        }
    }
}

/// Whether an object still exists after applying due transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Alive,
    Gone,
}

/// A status with an optional deadline: `status` until `until`, then what [`Phase::settle`] says.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub status: String,
    pub until: Option<Instant>,
}

impl Phase {
    pub fn new(status: &str) -> Self {
        Self { status: status.into(), until: None }
    }

    /// Enter `via` for `d`; a zero duration jumps straight to the settled state.
    pub fn enter(&mut self, via: &str, now: Instant, d: Duration) {
        self.status = via.into();
        self.until = Some(now + d);
    }

    /// The phase's deadline has passed: return the status it was in (and clear the deadline).
    fn due(&mut self, now: Instant) -> Option<String> {
        let t = self.until?;
        if now < t {
            return None;
        }
        self.until = None;
        Some(self.status.clone())
    }

    pub fn is(&self, s: &str) -> bool {
        self.status == s
    }
}

/// Objects kept in a [`Table`]: an id, a creation sequence and lazy transitions.
pub trait Lazy {
    fn id(&self) -> &str;
    fn seq(&self) -> u64;
    fn settle(&mut self, now: Instant) -> Liveness;
}

/// Objects ordered by creation sequence, with an id index; gone objects are dropped on access.
#[derive(Debug)]
pub struct Table<T> {
    by_seq: BTreeMap<u64, T>,
    index: HashMap<String, u64>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self { by_seq: BTreeMap::new(), index: HashMap::new() }
    }
}

impl<T: Lazy> Table<T> {
    pub fn clear(&mut self) {
        self.by_seq.clear();
        self.index.clear();
    }

    pub fn insert(&mut self, t: T) {
        self.index.insert(t.id().to_string(), t.seq());
        self.by_seq.insert(t.seq(), t);
    }

    pub fn remove(&mut self, id: &str) {
        if let Some(seq) = self.index.remove(id) {
            self.by_seq.remove(&seq);
        }
    }

    /// One object by id, settled; a gone one is removed.
    pub fn find_mut(&mut self, id: &str, now: Instant) -> Option<&mut T> {
        let seq = *self.index.get(id)?;
        if self.by_seq.get_mut(&seq).map(|t| t.settle(now)) == Some(Liveness::Gone) {
            self.remove(id);
            return None;
        }
        self.by_seq.get_mut(&seq)
    }

    /// Settle everything, drop gone objects, iterate the live ones in creation order.
    pub fn settled(&mut self, now: Instant) -> impl Iterator<Item = &mut T> {
        let gone: Vec<String> = self
            .by_seq
            .values_mut()
            .filter_map(|t| (t.settle(now) == Liveness::Gone).then(|| t.id().to_string()))
            .collect();
        for id in gone {
            self.remove(&id);
        }
        self.by_seq.values_mut()
    }
}

// ---------- services ----------

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceResource {
    pub kind: String,
    pub id: String,
    pub zone: String,
    pub dual_stack: bool,
    pub auto_allocated: bool,
}

/// An endpoint's connection to a service (kept on the service, keyed by endpoint id).
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    pub endpoint_id: String,
    pub owner_id: u64,
    pub phase: Phase,
    pub bandwidth: i64,
    pub traffic_control_mode: String,
    pub modified_time: String,
    /// Zones the endpoint has (a connection made through the admin API has none and counts for all).
    pub zones: Vec<String>,
    pub vpc_id: String,
    /// Backed by a real endpoint (`CreateVpcEndpoint`), not the admin shortcut.
    pub has_endpoint: bool,
}

impl Connection {
    /// Apply a due transition (`Connecting` → `Connected`, `Disconnecting` → `Disconnected`,
    /// `Deleting` → gone).
    pub fn settle(&mut self, now: Instant) -> Liveness {
        match self.phase.due(now).as_deref() {
            Some("Connecting") => self.phase.status = "Connected".into(),
            Some("Disconnecting") => self.phase.status = "Disconnected".into(),
            Some("Deleting") => return Liveness::Gone,
            _ => {}
        }
        Liveness::Alive
    }

    /// Start a transition that ends in `final_status` after `d` (immediately if zero).
    pub fn transition(&mut self, via: &str, final_status: &str, now: Instant, d: Duration) {
        if d.is_zero() {
            self.phase = Phase::new(final_status);
        } else {
            self.phase.enter(via, now, d);
        }
    }

    pub fn status(&self) -> &str {
        &self.phase.status
    }

    /// Traffic may flow or is about to: anything but `Disconnected` (and `Pending`, which has no
    /// traffic yet) holds the service resources in its zones.
    pub fn holds_resources(&self) -> bool {
        matches!(self.status(), "Connecting" | "Connected" | "Disconnecting")
    }

    /// Whether this connection uses a resource in `zone`. An admin-made connection has no endpoint and
    /// counts for every zone; a real endpoint only for the zones it has.
    pub fn covers(&self, zone: &str) -> bool {
        (!self.has_endpoint && self.zones.is_empty()) || self.zones.iter().any(|z| z == zone)
    }
}

/// Why a service is `Pending`: an attribute change, or a resource task that locks the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Attribute,
    Resources,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub seq: u64,
    pub account_id: String,
    pub region_id: String,
    pub service_id: String,
    pub service_name: String,
    pub service_domain: String,
    pub description: String,
    pub auto_accept: bool,
    pub zone_affinity: bool,
    pub payer: String,
    pub resource_type: String,
    pub address_ip_version: String,
    pub support_ipv6: bool,
    pub connect_bandwidth: i64,
    pub resource_group_id: String,
    pub tags: Vec<(String, String)>,
    pub resources: Vec<ServiceResource>,
    pub users: Vec<u64>,
    pub user_arns: Vec<String>,
    pub supported_regions: Vec<String>,
    pub connections: Vec<Connection>,
    pub create_time: String,
    pub business_status: String,
    pub phase: Phase,
    pub task: Option<Task>,
}

impl Lazy for Service {
    fn id(&self) -> &str {
        &self.service_id
    }
    fn seq(&self) -> u64 {
        self.seq
    }
    fn settle(&mut self, now: Instant) -> Liveness {
        match self.phase.due(now).as_deref() {
            Some("Creating" | "Pending") => {
                self.phase.status = "Active".into();
                self.task = None;
            }
            Some("Deleting") => return Liveness::Gone,
            _ => {}
        }
        self.connections.retain_mut(|c| c.settle(now) == Liveness::Alive);
        Liveness::Alive
    }
}

impl Service {
    /// Enter `via` for `d`, then `Active` (or gone for `Deleting`). Zero duration = immediate.
    pub fn transition(&mut self, via: &str, now: Instant, d: Duration) -> Liveness {
        self.phase.enter(via, now, d);
        if d.is_zero() { self.settle(now) } else { Liveness::Alive }
    }

    pub fn status(&self) -> &str {
        &self.phase.status
    }

    pub fn service_type(&self) -> &'static str {
        if self.resource_type == "gwlb" { "GatewayLoadBalancer" } else { "Interface" }
    }

    /// ConnectBandwidth as the real service reports it: 0 for nlb/gwlb services.
    pub fn reported_bandwidth(&self) -> i64 {
        if self.bandwidth_fixed() { 0 } else { self.connect_bandwidth }
    }

    /// NLB/GWLB services have no connection bandwidth to set.
    pub fn bandwidth_fixed(&self) -> bool {
        matches!(self.resource_type.as_str(), "nlb" | "gwlb")
    }

    pub fn zones(&self) -> Vec<String> {
        let mut z: Vec<String> = self.resources.iter().map(|r| r.zone.clone()).collect();
        z.sort();
        z.dedup();
        z
    }

    /// Whether `account` may connect: the owner, or on the whitelist by id or by an ARN of its account.
    pub fn allows(&self, account: &str) -> bool {
        account == self.account_id
            || account.parse::<u64>().is_ok_and(|a| self.users.contains(&a))
            || self.user_arns.iter().any(|arn| arn_account(arn).is_some_and(|a| a == account || a == "*"))
    }

    /// Connections that use the resource `r` right now.
    pub fn related(&self, r: &ServiceResource) -> usize {
        self.connections.iter().filter(|c| c.holds_resources() && c.covers(&r.zone)).count()
    }

    pub fn supported_region_set(&self) -> Value {
        Value::Array(
            self.supported_regions
                .iter()
                .map(|r| {
                    json!({"SupportedRegionId": r, "ServiceRegionId": self.region_id,
                           "RegionServiceStatus": "Available", "RegionBusinessStatus": "Normal"})
                })
                .collect(),
        )
    }

    pub fn tags_json(&self) -> Value {
        tags_json(&self.tags)
    }

    /// Admin (`/_sim/services`) view.
    pub fn admin_json(&self) -> Value {
        json!({
            "accountId": self.account_id,
            "regionId": self.region_id,
            "serviceId": self.service_id,
            "serviceName": self.service_name,
            "serviceDomain": self.service_domain,
            "serviceStatus": self.status(),
            "serviceBusinessStatus": self.business_status,
            "serviceDescription": self.description,
            "autoAcceptEnabled": self.auto_accept,
            "zoneAffinityEnabled": self.zone_affinity,
            "payer": self.payer,
            "serviceResourceType": self.resource_type,
            "addressIpVersion": self.address_ip_version,
            "serviceSupportIPv6": self.support_ipv6,
            "connectBandwidth": self.connect_bandwidth,
            "resourceGroupId": self.resource_group_id,
            "createTime": self.create_time,
            "tags": self.tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
            "resources": self.resources.iter()
                .map(|r| json!({"resourceType": r.kind, "resourceId": r.id, "zoneId": r.zone}))
                .collect::<Vec<_>>(),
            "users": self.users,
            "userArns": self.user_arns,
            "supportedRegions": self.supported_regions,
            "connections": self.connections.iter().map(|c| json!({
                "endpointId": c.endpoint_id, "endpointOwnerId": c.owner_id, "connectionStatus": c.status(),
                "bandwidth": c.bandwidth, "trafficControlMode": c.traffic_control_mode,
                "zones": c.zones, "hasEndpoint": c.has_endpoint,
            })).collect::<Vec<_>>(),
        })
    }
}

/// The account of a RAM ARN `acs:ram:*:<account>:...`.
pub fn arn_account(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    (parts.next()? == "acs" && parts.next()? == "ram").then_some(())?;
    parts.next()?;
    parts.next().filter(|a| !a.is_empty())
}

pub fn tags_json(tags: &[(String, String)]) -> Value {
    Value::Array(tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect())
}

// ---------- endpoints (consumer side) ----------

#[derive(Debug, Clone, PartialEq)]
pub struct EndpointZone {
    pub zone_id: String,
    pub vswitch_id: String,
    pub eni_id: String,
    pub ip: String,
    /// `Creating` / `Deleting` while AddZone / RemoveZone run, else `Ready`.
    pub phase: Phase,
    /// The provider's per-zone switch (Enable/DisableVpcEndpointZoneConnection); `None` follows the
    /// connection.
    pub zone_conn: Option<Phase>,
}

impl EndpointZone {
    fn settle(&mut self, now: Instant) -> Liveness {
        match self.phase.due(now).as_deref() {
            Some("Creating") => self.phase.status = "Ready".into(),
            Some("Deleting") => return Liveness::Gone,
            _ => {}
        }
        if let Some(z) = &mut self.zone_conn {
            match z.due(now).as_deref() {
                Some("Connecting") => self.zone_conn = None,
                Some("Disconnecting") => z.status = "Disconnected".into(),
                _ => {}
            }
        }
        Liveness::Alive
    }

    /// `ZoneStatus` given the connection's status.
    pub fn status(&self, connection: &str) -> String {
        if !self.phase.is("Ready") {
            return self.phase.status.clone();
        }
        if let Some(z) = &self.zone_conn {
            return z.status.clone();
        }
        match connection {
            "Pending" => "Wait",
            "ServiceDeleted" => "Disconnected",
            other => other,
        }
        .to_string()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EndpointSg {
    pub id: String,
    /// `Attaching` → `Attached`; `Detaching` → gone.
    pub phase: Phase,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub seq: u64,
    pub account_id: String,
    pub region_id: String,
    pub endpoint_id: String,
    pub name: String,
    pub description: String,
    pub endpoint_type: String,
    pub vpc_id: String,
    pub service_id: String,
    pub service_name: String,
    pub domain: String,
    pub zones: Vec<EndpointZone>,
    pub security_groups: Vec<EndpointSg>,
    pub tags: Vec<(String, String)>,
    pub resource_group_id: String,
    pub protected: bool,
    /// The identity that created the endpoint (protection compares it).
    pub creator: String,
    pub policy_document: String,
    pub zone_affinity: bool,
    pub create_time: String,
    pub business_status: String,
    /// `Creating` → `Active`; `Pending` (zone or security-group task, the endpoint is locked) →
    /// `Active`; `Deleting` → gone.
    pub phase: Phase,
}

impl Lazy for Endpoint {
    fn id(&self) -> &str {
        &self.endpoint_id
    }
    fn seq(&self) -> u64 {
        self.seq
    }
    fn settle(&mut self, now: Instant) -> Liveness {
        match self.phase.due(now).as_deref() {
            Some("Creating" | "Pending") => self.phase.status = "Active".into(),
            Some("Deleting") => return Liveness::Gone,
            _ => {}
        }
        self.zones.retain_mut(|z| z.settle(now) == Liveness::Alive);
        self.security_groups.retain_mut(|g| match g.phase.due(now).as_deref() {
            Some("Attaching") => {
                g.phase.status = "Attached".into();
                true
            }
            Some("Detaching") => false,
            _ => true,
        });
        Liveness::Alive
    }
}

impl Endpoint {
    pub fn status(&self) -> &str {
        &self.phase.status
    }
    pub fn zone_ids(&self) -> Vec<String> {
        self.zones.iter().map(|z| z.zone_id.clone()).collect()
    }
}

// ---------- the store ----------

/// Issued STS credentials, bounded: expired ones are dropped when new ones are issued.
#[derive(Debug, Default)]
pub struct IssuedKeys {
    keys: HashMap<String, AccessKey>,
}

pub const ISSUED_KEYS_MAX: usize = 100_000;

impl IssuedKeys {
    pub fn issue(&mut self, key: AccessKey, now: jiff::Timestamp) {
        if self.keys.len() >= ISSUED_KEYS_MAX {
            self.keys.retain(|_, k| k.expiration.is_none_or(|e| e > now));
        }
        self.keys.insert(key.id.clone(), key);
    }
    pub fn get(&self, id: &str) -> Option<&AccessKey> {
        self.keys.get(id)
    }
    pub fn all(&self) -> impl Iterator<Item = &AccessKey> {
        self.keys.values()
    }
}

/// Everything the operations change.
#[derive(Debug, Default)]
pub struct Store {
    next_seq: u64,
    pub services: Table<Service>,
    pub endpoints: Table<Endpoint>,
    pub sts: IssuedKeys,
    /// Per vSwitch: addresses handed out.
    pub ips: HashMap<String, Vec<String>>,
}

impl Store {
    pub fn clear(&mut self) {
        self.services.clear();
        self.endpoints.clear();
        self.ips.clear();
    }

    pub fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// A service visible to `account` in `region`.
    pub fn service_mut(
        &mut self,
        account: &str,
        region: Option<&str>,
        id: &str,
        now: Instant,
    ) -> Option<&mut Service> {
        self.services
            .find_mut(id, now)
            .filter(|s| s.account_id == account && region.is_none_or(|r| s.region_id == r))
    }

    pub fn count(&mut self, account: &str, region: &str, now: Instant) -> usize {
        self.services.settled(now).filter(|s| s.account_id == account && s.region_id == region).count()
    }

    /// The status of `endpoint`'s connection as the consumer sees it.
    pub fn connection_status(&mut self, service_id: &str, endpoint_id: &str, now: Instant) -> String {
        match self.services.find_mut(service_id, now) {
            None => "ServiceDeleted".into(),
            Some(s) => s
                .connections
                .iter()
                .find(|c| c.endpoint_id == endpoint_id)
                .map_or("Disconnected".into(), |c| c.status().to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn svc(status: &str, until: Option<Instant>) -> Service {
        Service {
            seq: 1,
            account_id: "a".into(),
            region_id: "r".into(),
            service_id: "epsrv-1".into(),
            service_name: String::new(),
            service_domain: String::new(),
            description: String::new(),
            auto_accept: false,
            zone_affinity: false,
            payer: "Endpoint".into(),
            resource_type: "slb".into(),
            address_ip_version: "IPv4".into(),
            support_ipv6: false,
            connect_bandwidth: 3072,
            resource_group_id: String::new(),
            tags: vec![],
            resources: vec![],
            users: vec![],
            user_arns: vec![],
            supported_regions: vec![],
            connections: vec![],
            create_time: String::new(),
            business_status: "Normal".into(),
            phase: Phase { status: status.into(), until },
            task: None,
        }
    }

    #[test]
    fn lazy_transitions_table() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        // (status, deadline offset, observe at offset) -> expected status or gone
        let cases: &[(&str, Option<u64>, u64, Option<&str>)] = &[
            ("Creating", Some(2), 1, Some("Creating")),
            ("Creating", Some(2), 2, Some("Active")),
            ("Pending", Some(1), 5, Some("Active")),
            ("Pending", Some(3), 2, Some("Pending")),
            ("Deleting", Some(2), 1, Some("Deleting")),
            ("Deleting", Some(2), 3, None),
            ("Active", None, 100, Some("Active")),
            ("Inactive", Some(1), 5, Some("Inactive")),
        ];
        for &(status, until, at, want) in cases {
            let mut x = svc(status, until.map(|u| t0 + s * u as u32));
            let live = x.settle(t0 + s * at as u32);
            match want {
                None => assert_eq!(live, Liveness::Gone, "{status}@{at}"),
                Some(w) => {
                    assert_eq!(live, Liveness::Alive, "{status}@{at}");
                    assert_eq!(x.status(), w, "{status}@{at}");
                }
            }
        }
    }

    #[test]
    fn zero_duration_transition_is_immediate() {
        let now = Instant::now();
        let mut x = svc("Active", None);
        assert_eq!(x.transition("Pending", now, Duration::ZERO), Liveness::Alive);
        assert_eq!(x.status(), "Active");
        assert_eq!(x.transition("Deleting", now, Duration::ZERO), Liveness::Gone);
    }

    #[test]
    fn store_drops_gone_services() {
        let now = Instant::now();
        let mut st = Store::default();
        st.services.insert(svc("Deleting", Some(now)));
        assert!(st.services.find_mut("epsrv-1", now).is_none());
        assert_eq!(st.count("a", "r", now), 0);
        st.services.insert(svc("Active", None));
        assert!(st.service_mut("a", Some("r"), "epsrv-1", now).is_some());
        assert!(st.service_mut("b", Some("r"), "epsrv-1", now).is_none());
        assert!(st.service_mut("a", Some("x"), "epsrv-1", now).is_none());
        assert_eq!(st.connection_status("epsrv-gone", "ep-1", now), "ServiceDeleted");
    }

    #[test]
    fn connection_transitions_and_deletion() {
        let now = Instant::now();
        let mut c = Connection {
            endpoint_id: "ep-1".into(),
            owner_id: 1,
            phase: Phase::new("Connected"),
            bandwidth: 3072,
            traffic_control_mode: "Scalability".into(),
            modified_time: String::new(),
            zones: vec!["z1".into()],
            vpc_id: String::new(),
            has_endpoint: true,
        };
        assert!(c.holds_resources() && c.covers("z1") && !c.covers("z2"));
        let zoneless = Connection { zones: vec![], ..c.clone() };
        assert!(!zoneless.covers("z1"), "an endpoint without zones uses no resource");
        let admin = Connection { has_endpoint: false, ..zoneless };
        assert!(admin.covers("z1"), "an admin connection counts for every zone");
        c.transition("Disconnecting", "Disconnected", now, Duration::from_secs(1));
        c.settle(now);
        assert_eq!(c.status(), "Disconnecting");
        c.settle(now + Duration::from_secs(1));
        assert_eq!(c.status(), "Disconnected");
        assert!(!c.holds_resources());
        c.phase.enter("Deleting", now, Duration::from_secs(1));
        assert_eq!(c.settle(now + Duration::from_secs(1)), Liveness::Gone);
    }

    #[test]
    fn whitelist_by_id_and_arn() {
        let mut s = svc("Active", None);
        s.users.push(2234567890123456);
        s.user_arns.push("acs:ram:*:3234567890123456:*".into());
        for (account, want) in
            [("a", true), ("2234567890123456", true), ("3234567890123456", true), ("4234567890123456", false)]
        {
            assert_eq!(s.allows(account), want, "{account}");
        }
        assert_eq!(arn_account("acs:ram::1234:role/x"), Some("1234"));
        assert_eq!(arn_account("not-an-arn"), None);
    }

    #[test]
    fn endpoint_zone_status_follows_connection_unless_switched() {
        let now = Instant::now();
        let mut z = EndpointZone {
            zone_id: "z".into(),
            vswitch_id: "v".into(),
            eni_id: "eni".into(),
            ip: "10.0.0.10".into(),
            phase: Phase::new("Ready"),
            zone_conn: None,
        };
        assert_eq!(z.status("Pending"), "Wait");
        assert_eq!(z.status("Connected"), "Connected");
        let mut p = Phase::new("");
        p.enter("Disconnecting", now, Duration::from_secs(1));
        z.zone_conn = Some(p);
        assert_eq!(z.status("Connected"), "Disconnecting");
        z.settle(now + Duration::from_secs(1));
        assert_eq!(z.status("Connected"), "Disconnected");
    }
}
