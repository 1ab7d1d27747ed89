//! In-memory resources and their lazily computed state machines.
//!
//! A service stores its current status plus an optional deadline; reading it past the deadline
//! moves it on (`Creating`/`Pending` → `Active`, `Deleting` → gone). No timers run, so idle
//! services cost nothing.

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

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

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceResource {
    pub kind: String,
    pub id: String,
    pub zone: String,
    pub dual_stack: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    pub endpoint_id: String,
    pub owner_id: u64,
    pub status: String,
    pub until: Option<Instant>,
    pub bandwidth: i64,
    pub traffic_control_mode: String,
    pub modified_time: String,
}

impl Connection {
    /// Apply a due transition (`Connecting` → `Connected`, `Disconnecting` → `Disconnected`).
    pub fn settle(&mut self, now: Instant) {
        if let Some(t) = self.until
            && now >= t
        {
            self.until = None;
            match self.status.as_str() {
                "Connecting" => self.status = "Connected".into(),
                "Disconnecting" => self.status = "Disconnected".into(),
                _ => {}
            }
        }
    }

    /// Start a transition that ends in `final_status` after `d` (immediately if zero).
    pub fn transition(&mut self, via: &str, final_status: &str, now: Instant, d: Duration) {
        if d.is_zero() {
            self.status = final_status.into();
            self.until = None;
        } else {
            self.status = via.into();
            self.until = Some(now + d);
        }
    }
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
    pub status: String,
    /// When the current transitional status ends.
    pub until: Option<Instant>,
}

/// Whether a service still exists after applying due transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Alive,
    Gone,
}

impl Service {
    pub fn settle(&mut self, now: Instant) -> Liveness {
        if let Some(t) = self.until
            && now >= t
        {
            self.until = None;
            match self.status.as_str() {
                "Creating" | "Pending" => self.status = "Active".into(),
                "Deleting" => return Liveness::Gone,
                _ => {}
            }
        }
        for c in &mut self.connections {
            c.settle(now);
        }
        Liveness::Alive
    }

    /// Enter `via` for `d`, then `Active` (or gone for `Deleting`). Zero duration = immediate.
    pub fn transition(&mut self, via: &str, now: Instant, d: Duration) -> Liveness {
        self.status = via.into();
        self.until = Some(now + d);
        if d.is_zero() { self.settle(now) } else { Liveness::Alive }
    }

    pub fn service_type(&self) -> &'static str {
        if self.resource_type == "gwlb" { "GatewayLoadBalancer" } else { "Interface" }
    }

    /// ConnectBandwidth as the real service reports it: 0 for nlb/gwlb services.
    pub fn reported_bandwidth(&self) -> i64 {
        if matches!(self.resource_type.as_str(), "nlb" | "gwlb") { 0 } else { self.connect_bandwidth }
    }

    pub fn zones(&self) -> Vec<String> {
        let mut z: Vec<String> = self.resources.iter().map(|r| r.zone.clone()).collect();
        z.sort();
        z.dedup();
        z
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
        Value::Array(self.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect())
    }

    /// Admin (`/_sim/services`) view.
    pub fn admin_json(&self) -> Value {
        json!({
            "accountId": self.account_id,
            "regionId": self.region_id,
            "serviceId": self.service_id,
            "serviceName": self.service_name,
            "serviceDomain": self.service_domain,
            "serviceStatus": self.status,
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
                "endpointId": c.endpoint_id, "endpointOwnerId": c.owner_id, "connectionStatus": c.status,
                "bandwidth": c.bandwidth, "trafficControlMode": c.traffic_control_mode,
            })).collect::<Vec<_>>(),
        })
    }
}

/// All services, ordered by creation sequence, with an id index.
#[derive(Debug, Default)]
pub struct Store {
    next_seq: u64,
    by_seq: BTreeMap<u64, Service>,
    index: HashMap<String, u64>,
}

impl Store {
    pub fn clear(&mut self) {
        self.by_seq.clear();
        self.index.clear();
    }

    pub fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    pub fn insert(&mut self, s: Service) {
        self.index.insert(s.service_id.clone(), s.seq);
        self.by_seq.insert(s.seq, s);
    }

    pub fn remove(&mut self, id: &str) {
        if let Some(seq) = self.index.remove(id) {
            self.by_seq.remove(&seq);
        }
    }

    /// Any service by id (settled; gone ones are removed), regardless of owner.
    pub fn find_mut(&mut self, id: &str, now: Instant) -> Option<&mut Service> {
        let seq = *self.index.get(id)?;
        let gone = self.by_seq.get_mut(&seq).map(|s| s.settle(now)) == Some(Liveness::Gone);
        if gone {
            self.remove(id);
            return None;
        }
        self.by_seq.get_mut(&seq)
    }

    /// A service visible to `account` in `region`.
    pub fn get_mut(
        &mut self,
        account: &str,
        region: Option<&str>,
        id: &str,
        now: Instant,
    ) -> Option<&mut Service> {
        self.find_mut(id, now).filter(|s| s.account_id == account && region.is_none_or(|r| s.region_id == r))
    }

    /// Settle everything, drop gone services, and iterate the live ones in creation order.
    pub fn settled(&mut self, now: Instant) -> impl Iterator<Item = &mut Service> {
        let mut gone = Vec::new();
        for s in self.by_seq.values_mut() {
            if s.settle(now) == Liveness::Gone {
                gone.push(s.service_id.clone());
            }
        }
        for id in gone {
            self.remove(&id);
        }
        self.by_seq.values_mut()
    }

    pub fn count(&mut self, account: &str, region: &str, now: Instant) -> usize {
        self.settled(now).filter(|s| s.account_id == account && s.region_id == region).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(status: &str, until: Option<Instant>) -> Service {
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
            status: status.into(),
            until,
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
                    assert_eq!(x.status, w, "{status}@{at}");
                }
            }
        }
    }

    #[test]
    fn zero_duration_transition_is_immediate() {
        let now = Instant::now();
        let mut x = svc("Active", None);
        assert_eq!(x.transition("Pending", now, Duration::ZERO), Liveness::Alive);
        assert_eq!(x.status, "Active");
        assert_eq!(x.transition("Deleting", now, Duration::ZERO), Liveness::Gone);
    }

    #[test]
    fn store_drops_gone_services() {
        let now = Instant::now();
        let mut st = Store::default();
        st.insert(svc("Deleting", Some(now)));
        assert!(st.find_mut("epsrv-1", now).is_none());
        assert_eq!(st.count("a", "r", now), 0);
        st.insert(svc("Active", None));
        assert!(st.get_mut("a", Some("r"), "epsrv-1", now).is_some());
        assert!(st.get_mut("b", Some("r"), "epsrv-1", now).is_none());
        assert!(st.get_mut("a", Some("x"), "epsrv-1", now).is_none());
    }

    #[test]
    fn connection_transitions() {
        let now = Instant::now();
        let mut c = Connection {
            endpoint_id: "ep-1".into(),
            owner_id: 1,
            status: "Connected".into(),
            until: None,
            bandwidth: 3072,
            traffic_control_mode: "Scalability".into(),
            modified_time: String::new(),
        };
        c.transition("Disconnecting", "Disconnected", now, Duration::from_secs(1));
        c.settle(now);
        assert_eq!(c.status, "Disconnecting");
        c.settle(now + Duration::from_secs(1));
        assert_eq!(c.status, "Disconnected");
    }
}
