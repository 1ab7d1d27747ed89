//! The simulated world: accounts and access keys, regions and zones, load balancers, quotas.
//!
//! [`World::default_world`] is what `privatelink-sim` uses without `--world`; see `README.md`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
    pub account_id: String,
    #[serde(default = "yes")]
    pub active: bool,
    /// When set, this is an STS key and every request must carry exactly this token.
    #[serde(default)]
    pub security_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub id: String,
    #[serde(default = "yes")]
    pub product_opened: bool,
    /// May create services with `Payer=EndpointService`.
    #[serde(default)]
    pub payer_whitelisted: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Region {
    pub id: String,
    pub zones: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancer {
    pub account_id: String,
    pub region_id: String,
    pub id: String,
    /// `slb`, `alb`, `nlb` or `gwlb`.
    #[serde(rename = "type")]
    pub kind: String,
    pub zones: Vec<String>,
    #[serde(default = "yes")]
    pub private_link_supported: bool,
    #[serde(default)]
    pub dual_stack: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct World {
    pub accounts: Vec<Account>,
    pub access_keys: Vec<AccessKey>,
    pub regions: Vec<Region>,
    #[serde(default)]
    pub load_balancers: Vec<LoadBalancer>,
    /// Max endpoint services per account per region.
    #[serde(default = "default_quota")]
    pub service_quota: usize,
}

fn yes() -> bool {
    true
}
fn default_quota() -> usize {
    100
}

pub const ACCOUNT_DEFAULT: &str = "1234567890123456";
pub const ACCOUNT_OTHER: &str = "2234567890123456";
pub const ACCOUNT_UNOPENED: &str = "3234567890123456";

impl World {
    /// The built-in world (documented in `src/sim/README.md`).
    pub fn default_world() -> Self {
        let key = |id: &str, secret: &str, account: &str, active: bool, token: Option<&str>| AccessKey {
            id: id.into(),
            secret: secret.into(),
            account_id: account.into(),
            active,
            security_token: token.map(String::from),
        };
        let mut lbs = Vec::new();
        for account in [ACCOUNT_DEFAULT, ACCOUNT_OTHER] {
            let mut lb = |region: &str, id: String, kind: &str, zones: &[&str], pl: bool, ds: bool| {
                lbs.push(LoadBalancer {
                    account_id: account.into(),
                    region_id: region.into(),
                    id,
                    kind: kind.into(),
                    zones: zones.iter().map(|z| z.to_string()).collect(),
                    private_link_supported: pl,
                    dual_stack: ds,
                })
            };
            let hz = "cn-hangzhou";
            for i in 1..=3 {
                lb(hz, format!("lb-sim-slb-{i:03}"), "slb", &["cn-hangzhou-h"], true, false);
            }
            lb(hz, "lb-sim-noplink".into(), "slb", &["cn-hangzhou-h"], false, false);
            for i in 1..=5 {
                lb(hz, format!("nlb-sim-{i:03}"), "nlb", &["cn-hangzhou-h", "cn-hangzhou-i"], true, true);
            }
            for i in 1..=3 {
                lb(hz, format!("alb-sim-{i:03}"), "alb", &["cn-hangzhou-h", "cn-hangzhou-i"], true, false);
            }
            lb(hz, "gwlb-sim-001".into(), "gwlb", &["cn-hangzhou-h", "cn-hangzhou-i"], true, true);
            let bj = "cn-beijing";
            lb(bj, "lb-sim-bj-slb-001".into(), "slb", &["cn-beijing-a"], true, false);
            lb(bj, "nlb-sim-bj-001".into(), "nlb", &["cn-beijing-a", "cn-beijing-b"], true, true);
            lb(bj, "alb-sim-bj-001".into(), "alb", &["cn-beijing-a", "cn-beijing-b"], true, false);
        }
        World {
            accounts: vec![
                Account { id: ACCOUNT_DEFAULT.into(), product_opened: true, payer_whitelisted: true },
                Account { id: ACCOUNT_OTHER.into(), product_opened: true, payer_whitelisted: false },
                Account { id: ACCOUNT_UNOPENED.into(), product_opened: false, payer_whitelisted: false },
            ],
            access_keys: vec![
                key("sim-ak-default", "sim-secret-default", ACCOUNT_DEFAULT, true, None),
                key("sim-ak-other", "sim-secret-other", ACCOUNT_OTHER, true, None),
                key("STS.sim-sts-ak", "sim-sts-secret", ACCOUNT_DEFAULT, true, Some("sim-sts-token")),
                key("sim-ak-inactive", "sim-secret-inactive", ACCOUNT_DEFAULT, false, None),
                key("sim-ak-unopened", "sim-secret-unopened", ACCOUNT_UNOPENED, true, None),
            ],
            regions: vec![
                Region {
                    id: "cn-hangzhou".into(),
                    zones: ["h", "i", "j", "k"].iter().map(|z| format!("cn-hangzhou-{z}")).collect(),
                },
                Region { id: "cn-beijing".into(), zones: vec!["cn-beijing-a".into(), "cn-beijing-b".into()] },
            ],
            load_balancers: lbs,
            service_quota: default_quota(),
        }
    }

    /// Load from YAML (JSON is valid YAML).
    pub fn from_yaml(text: &str) -> Result<Self, serde_yaml::Error> {
        serde_yaml::from_str(text)
    }

    pub fn access_key(&self, id: &str) -> Option<&AccessKey> {
        self.access_keys.iter().find(|k| k.id == id)
    }
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.id == id)
    }
    pub fn region(&self, id: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.id == id)
    }
    pub fn load_balancer(&self, account: &str, region: &str, id: &str) -> Option<&LoadBalancer> {
        self.load_balancers.iter().find(|l| l.account_id == account && l.region_id == region && l.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_world_roundtrips_through_yaml() {
        let w = World::default_world();
        let text = serde_yaml::to_string(&w).unwrap();
        assert_eq!(World::from_yaml(&text).unwrap(), w);
        assert!(w.load_balancer(ACCOUNT_OTHER, "cn-hangzhou", "nlb-sim-005").is_some());
        assert!(!w.account(ACCOUNT_UNOPENED).unwrap().product_opened);
    }

    #[test]
    fn minimal_json_world_gets_defaults() {
        let w = World::from_yaml(
            r#"{"accounts":[{"id":"1"}],"accessKeys":[{"id":"a","secret":"s","accountId":"1"}],
                "regions":[{"id":"r","zones":["z"]}]}"#,
        )
        .unwrap();
        assert_eq!(w.service_quota, 100);
        assert!(w.access_keys[0].active);
        assert!(w.accounts[0].product_opened);
    }
}
