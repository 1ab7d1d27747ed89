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
    /// When the key stops working (STS credentials issued by AssumeRole / AssumeRoleWithOIDC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<jiff::Timestamp>,
    /// The identity behind the key: the key id itself, or `<role ARN>/<session>` for STS credentials.
    /// Endpoint protection (`ProtectedEnabled`) compares it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
}

impl AccessKey {
    pub fn principal(&self) -> &str {
        self.principal.as_deref().unwrap_or(&self.id)
    }
    pub fn is_sts(&self) -> bool {
        self.security_token.is_some()
    }
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

/// A consumer VPC.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Vpc {
    pub account_id: String,
    pub region_id: String,
    pub id: String,
    /// Max endpoints in this VPC (`QuotaExceeded.totalEpPerVpc`).
    #[serde(default = "default_vpc_quota")]
    pub endpoint_quota: usize,
}

/// A vSwitch: one zone of a VPC, a /24 whose hosts .10-.250 are handed to endpoint ENIs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VSwitch {
    pub account_id: String,
    pub region_id: String,
    pub vpc_id: String,
    pub id: String,
    pub zone_id: String,
    /// First three octets, e.g. `10.0.1`.
    pub prefix: String,
    /// `false`: not yet Available (`VSwitchStatusNotAllowed`).
    #[serde(default = "yes")]
    pub available: bool,
    /// Free addresses left (`ResourceNotEnough.VSwitchIp` at 0).
    #[serde(default = "default_free_ips")]
    pub free_ips: u32,
}

/// A security group of a VPC.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroup {
    pub account_id: String,
    pub region_id: String,
    pub vpc_id: String,
    pub id: String,
    /// `normal` or `enterprise`; one endpoint takes groups of one type only.
    #[serde(rename = "type", default = "normal")]
    pub kind: String,
}

/// A resource group (ChangeResourceGroup targets).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGroup {
    pub account_id: String,
    pub id: String,
    /// `false`: the account may not move resources into it (`NoPermission.ChangeResourceGroup`).
    #[serde(default = "yes")]
    pub writable: bool,
}

/// A RAM role that STS can hand out credentials for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    pub account_id: String,
    pub name: String,
    /// Accounts whose keys may call AssumeRole for this role.
    #[serde(default)]
    pub trusted_accounts: Vec<String>,
    /// OIDC providers (names, in the role's account) whose tokens AssumeRoleWithOIDC accepts.
    #[serde(default)]
    pub trusted_oidc_providers: Vec<String>,
    #[serde(default = "default_max_session")]
    pub max_session_seconds: i64,
}

impl Role {
    pub fn arn(&self) -> String {
        format!("acs:ram::{}:role/{}", self.account_id, self.name)
    }
}

/// A RAM OIDC identity provider (RRSA: one per ACK cluster).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OidcProvider {
    pub account_id: String,
    pub name: String,
    /// Expected `iss` claim.
    pub issuer: String,
    /// Expected `aud` claim.
    #[serde(default = "default_audience")]
    pub audience: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct World {
    pub accounts: Vec<Account>,
    pub access_keys: Vec<AccessKey>,
    pub regions: Vec<Region>,
    #[serde(default)]
    pub load_balancers: Vec<LoadBalancer>,
    #[serde(default)]
    pub vpcs: Vec<Vpc>,
    #[serde(default)]
    pub v_switches: Vec<VSwitch>,
    #[serde(default)]
    pub security_groups: Vec<SecurityGroup>,
    #[serde(default)]
    pub resource_groups: Vec<ResourceGroup>,
    #[serde(default)]
    pub roles: Vec<Role>,
    #[serde(default)]
    pub oidc_providers: Vec<OidcProvider>,
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
fn default_vpc_quota() -> usize {
    50
}
fn default_free_ips() -> u32 {
    240
}
fn normal() -> String {
    "normal".into()
}
fn default_max_session() -> i64 {
    43200
}
fn default_audience() -> String {
    "sts.aliyuncs.com".into()
}

/// The resource group every account has and new resources land in.
pub const DEFAULT_RESOURCE_GROUP: &str = "rg-sim-default";
/// The issuer of the default world's OIDC providers.
pub const SIM_OIDC_ISSUER: &str = "https://oidc-ack-cn-hangzhou.oss-cn-hangzhou.aliyuncs.com/sim";

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
            expiration: None,
            principal: None,
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
        let mut vpcs = Vec::new();
        let mut vsws = Vec::new();
        let mut sgs = Vec::new();
        let mut rgs = Vec::new();
        for (n, (account, tag)) in [(ACCOUNT_DEFAULT, "a"), (ACCOUNT_OTHER, "b")].into_iter().enumerate() {
            for (region, suffix, zones) in
                [("cn-hangzhou", "", &["h", "i", "j", "k"][..]), ("cn-beijing", "-bj", &["a", "b"][..])]
            {
                let vpc = format!("vpc-sim-{tag}{suffix}");
                vpcs.push(Vpc {
                    account_id: account.into(),
                    region_id: region.into(),
                    id: vpc.clone(),
                    endpoint_quota: default_vpc_quota(),
                });
                for (i, z) in zones.iter().enumerate() {
                    vsws.push(VSwitch {
                        account_id: account.into(),
                        region_id: region.into(),
                        vpc_id: vpc.clone(),
                        id: format!("vsw-sim-{tag}{suffix}-{z}"),
                        zone_id: format!("{region}-{z}"),
                        prefix: format!("10.{}.{}", n * 16 + usize::from(!suffix.is_empty()), i + 1),
                        available: true,
                        free_ips: default_free_ips(),
                    });
                }
                for (id, kind) in
                    [("1", "normal"), ("2", "normal"), ("ent", "enterprise"), ("managed", "managed")]
                {
                    sgs.push(SecurityGroup {
                        account_id: account.into(),
                        region_id: region.into(),
                        vpc_id: vpc.clone(),
                        id: format!("sg-sim-{tag}{suffix}-{id}"),
                        kind: kind.into(),
                    });
                }
            }
            // Two odd vSwitches in zone h: one not yet Available, one without free addresses.
            for (id, available, free_ips, oct) in [("busy", false, 240, 8), ("full", true, 0, 9)] {
                vsws.push(VSwitch {
                    account_id: account.into(),
                    region_id: "cn-hangzhou".into(),
                    vpc_id: format!("vpc-sim-{tag}"),
                    id: format!("vsw-sim-{tag}-{id}"),
                    zone_id: "cn-hangzhou-h".into(),
                    prefix: format!("10.{}.{oct}", n * 16),
                    available,
                    free_ips,
                });
            }
            for (id, writable) in [
                (DEFAULT_RESOURCE_GROUP, true),
                ("rg-sim-001", true),
                ("rg-sim-002", true),
                ("rg-sim-locked", false),
            ] {
                rgs.push(ResourceGroup { account_id: account.into(), id: id.into(), writable });
            }
        }
        let role = |account: &str, name: &str, accounts: &[&str], providers: &[&str]| Role {
            account_id: account.into(),
            name: name.into(),
            trusted_accounts: accounts.iter().map(|a| a.to_string()).collect(),
            trusted_oidc_providers: providers.iter().map(|p| p.to_string()).collect(),
            max_session_seconds: default_max_session(),
        };
        let provider = |account: &str, name: &str| OidcProvider {
            account_id: account.into(),
            name: name.into(),
            issuer: SIM_OIDC_ISSUER.into(),
            audience: default_audience(),
        };
        World {
            vpcs,
            v_switches: vsws,
            security_groups: sgs,
            resource_groups: rgs,
            roles: vec![
                role(ACCOUNT_DEFAULT, "privatelink-operator", &[], &["ack-rrsa-c1", "ack-rrsa-e2e"]),
                role(ACCOUNT_OTHER, "privatelink-operator", &[], &["ack-rrsa-c1"]),
                role(ACCOUNT_OTHER, "privatelink-cross-account", &[ACCOUNT_DEFAULT], &[]),
            ],
            oidc_providers: vec![
                provider(ACCOUNT_DEFAULT, "ack-rrsa-c1"),
                provider(ACCOUNT_DEFAULT, "ack-rrsa-e2e"),
                provider(ACCOUNT_OTHER, "ack-rrsa-c1"),
            ],
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
    pub fn vpc(&self, account: &str, region: &str, id: &str) -> Option<&Vpc> {
        self.vpcs.iter().find(|v| v.account_id == account && v.region_id == region && v.id == id)
    }
    pub fn v_switch(&self, account: &str, region: &str, id: &str) -> Option<&VSwitch> {
        self.v_switches.iter().find(|v| v.account_id == account && v.region_id == region && v.id == id)
    }
    pub fn security_group(&self, account: &str, region: &str, id: &str) -> Option<&SecurityGroup> {
        self.security_groups.iter().find(|g| g.account_id == account && g.region_id == region && g.id == id)
    }
    pub fn resource_group(&self, account: &str, id: &str) -> Option<&ResourceGroup> {
        self.resource_groups.iter().find(|g| g.account_id == account && g.id == id)
    }
    /// A role by ARN (`acs:ram::<account>:role/<name>`).
    pub fn role(&self, arn: &str) -> Option<&Role> {
        let (account, name) = arn.strip_prefix("acs:ram::")?.split_once(":role/")?;
        self.roles.iter().find(|r| r.account_id == account && r.name == name)
    }
    /// An OIDC provider by ARN (`acs:ram::<account>:oidc-provider/<name>`).
    pub fn oidc_provider(&self, arn: &str) -> Option<&OidcProvider> {
        let (account, name) = arn.strip_prefix("acs:ram::")?.split_once(":oidc-provider/")?;
        self.oidc_providers.iter().find(|p| p.account_id == account && p.name == name)
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
