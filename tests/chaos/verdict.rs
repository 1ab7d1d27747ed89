//! The invariants, as plain functions over what the run observed, and the table of figures.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
    time::Duration,
};

use crate::observe::{CloudLog, Transition, owner_of};

/// Ready reasons of an object that is applying a spec edit.
const PROGRESS: [&str; 4] = ["Updating", "Creating", "Progressing", "Pending"];

/// Why a `Ready` True→False transition is legitimate, or `None` when it is a flap.
pub fn explain(t: &Transition, switch_ns: &str) -> Option<&'static str> {
    let edited = t.to_generation > t.from_generation;
    if t.deleting {
        Some("deletion")
    } else if t.reason == "AccountMismatch" && t.ns == switch_ns {
        Some("account switch")
    } else if edited && t.reason == "DetachBlocked" {
        Some("edit blocked by a connection")
    } else if edited && PROGRESS.contains(&t.reason.as_str()) {
        Some("edit in progress")
    } else if edited {
        // The new generation is not applied yet, so Ready is False whatever happens; a transient
        // error while applying it names itself (code and RequestId) instead of `Updating`.
        Some("edit applied through a transient error")
    } else {
        None
    }
}

/// Ownership figures of one kind of cloud resource (services or endpoints) over the run.
#[derive(Debug, Default, PartialEq)]
pub struct Ownership {
    /// Most non-Deleting resources one owner UID had at once.
    pub max_per_uid: usize,
    /// First sighting of each UID with two or more at once.
    pub duplicates: Vec<String>,
    /// Owners that had more than one resource over their life (one after another).
    pub replaced: Vec<String>,
    /// Resources seen without the ownership tag.
    pub untagged: usize,
    /// Left at the end (the last snapshot), apart from those of `Orphan` objects.
    pub leaked: Vec<String>,
    /// Left at the end as asked (`Orphan`).
    pub orphans_kept: usize,
}

/// The ownership figures of a [`CloudLog`]: `orphans` are the UIDs whose resource may stay, `names`
/// name the owners (UID → namespace/name).
pub fn ownership(
    cloud: &CloudLog,
    orphans: &BTreeSet<String>,
    names: &BTreeMap<String, String>,
) -> Ownership {
    let name = |uid: &str| names.get(uid).cloned().unwrap_or_else(|| format!("unknown owner {uid}"));
    let (id_key, status_key) = (cloud.kind.id_key(), cloud.kind.status_key());
    let mut o = Ownership {
        max_per_uid: cloud.max_live_per_uid,
        duplicates: cloud.duplicates.clone(),
        untagged: cloud.untagged.len(),
        ..Default::default()
    };
    o.replaced = cloud
        .ids_per_uid
        .iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(uid, ids)| format!("{}: {}", name(uid), ids.iter().cloned().collect::<Vec<_>>().join(", ")))
        .collect();
    for s in &cloud.last {
        let id = s[id_key].as_str().unwrap_or_default();
        match owner_of(s) {
            Some(uid) if orphans.contains(&uid) => o.orphans_kept += 1,
            Some(uid) => o.leaked.push(format!("{id} ({}) of {}", s[status_key], name(&uid))),
            None => o.leaked.push(format!("{id} without an ownership tag")),
        }
    }
    o
}

/// What happened to the `VpcEndpoint`s of a run.
#[derive(Debug, Default)]
pub struct EndpointFigures {
    pub planned: usize,
    pub created: u64,
    /// Not created: their service was gone first.
    pub skipped: u64,
    pub orphans: usize,
    pub edits: BTreeMap<String, u64>,
    pub deletes: u64,
    pub with_service: u64,
    pub service_first: u64,
    pub orphan_deletes: u64,
    /// The consumer's writes in account B.
    pub writes: u64,
    pub cloud: Ownership,
    pub allowed_drops: BTreeMap<String, u64>,
    pub false_reasons: BTreeMap<String, u64>,
    pub not_converged: Vec<String>,
}

/// Everything the run counted.
#[derive(Debug, Default)]
pub struct Figures {
    pub seed: u64,
    pub resources: usize,
    pub created: u64,
    pub namespaces: usize,
    pub orphans: usize,
    pub edits: BTreeMap<String, u64>,
    pub deletes: u64,
    pub orphan_deletes: u64,
    /// Fault kind → times fired (`GET /_sim/faults`).
    pub faults: BTreeMap<String, u64>,
    pub cloud_calls: u64,
    pub kills: u32,
    pub killed: u32,
    pub operator_exits: Vec<String>,
    pub apiserver_restarts: u32,
    pub apiserver_restart: String,
    pub connections: u64,
    pub connections_skipped: u64,
    pub disconnects: u64,
    pub namespaces_deleted_mid_run: u64,
    pub namespaces_deleted: usize,
    pub switch: String,
    pub switch_problems: Vec<String>,
    pub other_account_services: usize,
    pub other_account_writes: Vec<String>,
    pub max_services_per_uid: usize,
    pub duplicates: Vec<String>,
    /// Owners that had more than one service over their life (one after another).
    pub replaced: Vec<String>,
    pub untagged: usize,
    pub leaked: Vec<String>,
    pub orphans_kept: usize,
    pub refused: Vec<String>,
    /// Refusals in the journal's own totals (whole run, not windowed).
    pub refused_total: u64,
    pub journal_missed: u64,
    pub flaps: Vec<String>,
    pub allowed_drops: BTreeMap<String, u64>,
    pub false_reasons: BTreeMap<String, u64>,
    pub not_converged: Vec<String>,
    pub stuck: Vec<String>,
    pub errors: Vec<String>,
    pub wall: Duration,
    pub ep: EndpointFigures,
}

/// One invariant's verdict.
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: Vec<String>,
}

fn check(name: &'static str, detail: Vec<String>) -> Check {
    Check { name, ok: detail.is_empty(), detail }
}

fn fault_fired(f: &Figures, kind: &str) -> u64 {
    f.faults.get(kind).copied().unwrap_or(0)
}

/// The chaos itself happened as planned (otherwise a pass proves little).
fn chaos_happened(f: &Figures, planned_kills: u32) -> Vec<String> {
    let mut d = f.errors.clone();
    if f.kills != planned_kills {
        d.push(format!("{} operator kill rounds, planned {planned_kills}", f.kills));
    }
    if f.apiserver_restarts != 1 {
        d.push(format!("apiserver restart: {}", f.apiserver_restart));
    }
    for kind in ["throttle", "error", "lose_response", "latency"] {
        if fault_fired(f, kind) == 0 {
            d.push(format!("no {kind} fault fired"));
        }
    }
    if f.connections == 0 {
        d.push("no consumer connection was made".into());
    }
    if f.created < f.resources as u64 {
        d.push(format!("{} of {} objects created", f.created, f.resources));
    }
    if f.ep.planned > 0 && f.ep.created == 0 {
        d.push(format!("no VpcEndpoint created of {} planned", f.ep.planned));
    }
    d
}

/// Invariant 9: at most one endpoint per `VpcEndpoint` UID at every observation, never a second one
/// over its life, and none without the ownership tag.
fn one_endpoint_per_uid(o: &Ownership) -> Vec<String> {
    let mut d = o.duplicates.clone();
    d.extend(o.replaced.iter().map(|r| format!("second endpoint over its life: {r}")));
    if o.untagged > 0 {
        d.push(format!("{} endpoints without the ownership tag", o.untagged));
    }
    d
}

pub fn checks(f: &Figures, planned_kills: u32) -> Vec<Check> {
    let mut one = f.duplicates.clone();
    one.extend(f.replaced.iter().map(|r| format!("second service over its life: {r}")));
    if f.untagged > 0 {
        one.push(format!("{} services without the ownership tag", f.untagged));
    }
    let mut refused = f.refused.clone();
    if f.refused_total as usize > refused.len() {
        refused.push(format!("journal totals count {} refusals", f.refused_total));
    }
    let mut account = f.switch_problems.clone();
    account.extend(f.other_account_writes.iter().map(|w| format!("write in the other account: {w}")));
    if f.other_account_services > 0 {
        account.push(format!("{} services in the other account", f.other_account_services));
    }
    vec![
        check("1 exactly one service per resource UID", one),
        check("2 no service left after deletion (apart from Orphan)", f.leaked.clone()),
        check("3 no Detach/Delete refused for a live connection", refused),
        check("4 no Ready True->False on a transient fault", f.flaps.clone()),
        check("5 no stuck finalizers", f.stuck.clone()),
        check("6 credentials of another account change nothing (AccountMismatch)", account),
        check("7 every live object Ready once faults stop", f.not_converged.clone()),
        check("8 the planned chaos happened", chaos_happened(f, planned_kills)),
        check("9 at most one endpoint per VpcEndpoint UID", one_endpoint_per_uid(&f.ep.cloud)),
        check("10 no endpoint left after deletion (apart from Orphan)", f.ep.cloud.leaked.clone()),
        check("11 every live VpcEndpoint Ready once faults stop", f.ep.not_converged.clone()),
    ]
}

fn join<K: std::fmt::Display, V: std::fmt::Display>(m: &BTreeMap<K, V>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
}

/// The figures and verdicts as Markdown (what `tests/chaos/README.md` keeps).
pub fn table(f: &Figures, checks: &[Check]) -> String {
    let edits: u64 = f.edits.values().sum();
    let e = &f.ep;
    let rows: Vec<(&str, String)> = vec![
        ("seed", format!("`CHAOS_SEED={}`", f.seed)),
        (
            "resources",
            format!(
                "{} created of {} planned, in {} namespaces ({} with deletionPolicy Orphan)",
                f.created, f.resources, f.namespaces, f.orphans
            ),
        ),
        ("spec edits", format!("{edits} ({})", join(&f.edits))),
        ("objects deleted one by one", format!("{} ({} Orphan)", f.deletes, f.orphan_deletes)),
        ("faults fired", format!("{} (on {} cloud calls)", join(&f.faults), f.cloud_calls)),
        (
            "operator kills (SIGKILL)",
            format!("{} rounds, {} processes; {} exits by itself", f.kills, f.killed, f.operator_exits.len()),
        ),
        ("apiserver restarts", format!("{} ({})", f.apiserver_restarts, f.apiserver_restart)),
        (
            "consumer connections",
            format!(
                "{} made, {} removed ({} times no quiet service)",
                f.connections, f.disconnects, f.connections_skipped
            ),
        ),
        (
            "namespaces deleted with their Secret",
            format!(
                "{} ({} during the chaos, the rest at the end)",
                f.namespaces_deleted, f.namespaces_deleted_mid_run
            ),
        ),
        ("credentials switch", f.switch.clone()),
        (
            "services / writes in the other account",
            format!("{} / {}", f.other_account_services, f.other_account_writes.len()),
        ),
        (
            "max services per UID",
            format!(
                "{} (owners with a second service over their life: {})",
                f.max_services_per_uid,
                f.replaced.len()
            ),
        ),
        (
            "leaked services",
            format!("{} ({} Orphan services kept, as asked)", f.leaked.len(), f.orphans_kept),
        ),
        (
            "refused Detach/Delete (live connection)",
            format!(
                "{} (journal calls missed by polling: {})",
                f.refused_total.max(f.refused.len() as u64),
                f.journal_missed
            ),
        ),
        ("Ready flaps (True->False on a fault)", f.flaps.len().to_string()),
        ("Ready True->False, legitimate", join(&f.allowed_drops)),
        ("Ready=False reasons seen", join(&f.false_reasons)),
        ("not Ready after the faults stopped", f.not_converged.len().to_string()),
        (
            "VpcEndpoints (account B)",
            format!(
                "{} created of {} planned ({} skipped: service gone first; {} with deletionPolicy Orphan)",
                e.created, e.planned, e.skipped, e.orphans
            ),
        ),
        ("endpoint edits", format!("{} ({})", e.edits.values().sum::<u64>(), join(&e.edits))),
        (
            "endpoints deleted one by one",
            format!(
                "{} on their own, {} with their service ({} service first); {} Orphan",
                e.deletes, e.with_service, e.service_first, e.orphan_deletes
            ),
        ),
        ("endpoint writes in account B", e.writes.to_string()),
        (
            "max endpoints per UID",
            format!(
                "{} (owners with a second endpoint over their life: {}; untagged: {})",
                e.cloud.max_per_uid,
                e.cloud.replaced.len(),
                e.cloud.untagged
            ),
        ),
        (
            "leaked endpoints",
            format!("{} ({} Orphan endpoints kept, as asked)", e.cloud.leaked.len(), e.cloud.orphans_kept),
        ),
        ("endpoint Ready True->False, legitimate", join(&e.allowed_drops)),
        ("endpoint Ready=False reasons seen", join(&e.false_reasons)),
        ("endpoints not Ready after the faults stopped", e.not_converged.len().to_string()),
        ("stuck finalizers", f.stuck.len().to_string()),
        ("wall time", format!("{} s", f.wall.as_secs())),
    ];
    let mut out = String::from("| figure | value |\n|---|---|\n");
    for (k, v) in rows {
        let _ = writeln!(out, "| {k} | {v} |");
    }
    out.push('\n');
    for c in checks {
        let _ = writeln!(out, "- {} {}", if c.ok { "PASS" } else { "FAIL" }, c.name);
        for d in c.detail.iter().take(15) {
            let _ = writeln!(out, "    - {d}");
        }
        if c.detail.len() > 15 {
            let _ = writeln!(out, "    - ... and {} more", c.detail.len() - 15);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(reason: &str, from: i64, to: i64, deleting: bool) -> Transition {
        Transition {
            at: Duration::ZERO,
            ns: "a".into(),
            name: "x".into(),
            reason: reason.into(),
            message: String::new(),
            from_generation: Some(from),
            to_generation: Some(to),
            deleting,
        }
    }

    #[test]
    fn only_edits_deletion_and_the_switch_explain_a_drop() {
        let cases = [
            (t("ThrottlingUser", 1, 1, false), "a", None),
            (t("ThrottlingUser", 1, 2, false), "a", Some("edit applied through a transient error")),
            (t("CloudUnreachable", 1, 1, false), "a", None),
            (t("Updating", 1, 1, false), "a", None),
            (t("Updating", 1, 2, false), "a", Some("edit in progress")),
            (t("DetachBlocked", 1, 2, false), "a", Some("edit blocked by a connection")),
            (t("DetachBlocked", 2, 2, false), "a", None),
            (t("AccountMismatch", 2, 2, false), "a", Some("account switch")),
            (t("AccountMismatch", 2, 2, false), "b", None),
            (t("DeletionBlocked", 2, 2, true), "a", Some("deletion")),
        ];
        for (tr, ns, want) in cases {
            assert_eq!(explain(&tr, ns), want, "{tr:?} switch ns {ns}");
        }
    }

    #[test]
    fn endpoints_are_judged_by_owner_uid() {
        use serde_json::json;

        use crate::observe::{CloudKind, OWNER_TAG};
        let ep = |id: &str, uid: Option<&str>, status: &str| {
            let tags: Vec<serde_json::Value> =
                uid.iter().map(|u| json!({"key": OWNER_TAG, "value": u})).collect();
            json!({"endpointId": id, "endpointStatus": status, "tags": tags})
        };
        let names: BTreeMap<String, String> = [("u1", "n0/ep-001"), ("u2", "n1/ep-002"), ("u3", "n0/ep-003")]
            .map(|(u, n)| (u.into(), n.into()))
            .into();
        let orphans: BTreeSet<String> = ["u3".to_string()].into();
        // (snapshots in order, then: leaked, Orphan kept, check 9 problems)
        type Case = (Vec<Vec<serde_json::Value>>, Vec<&'static str>, usize, usize);
        let cases: [Case; 5] = [
            (vec![vec![ep("a", Some("u1"), "Active")], vec![]], vec![], 0, 0),
            (
                vec![
                    vec![ep("a", Some("u1"), "Active"), ep("b", Some("u2"), "Creating")],
                    vec![ep("b", Some("u2"), "Active")],
                ],
                vec!["b (\"Active\") of n1/ep-002"],
                0,
                0,
            ),
            (vec![vec![ep("c", Some("u3"), "Active")]], vec![], 1, 0),
            // A second endpoint beside the first (one check-9 line), and the same UID over its life
            // (another); the Deleting one does not count as live.
            (
                vec![
                    vec![ep("a", Some("u1"), "Deleting"), ep("d", Some("u1"), "Active")],
                    vec![ep("d", Some("u1"), "Active"), ep("e", Some("u1"), "Creating")],
                    vec![],
                ],
                vec![],
                0,
                2,
            ),
            (vec![vec![ep("x", None, "Active")]], vec!["x without an ownership tag"], 0, 1),
        ];
        for (snapshots, leaked, kept, problems) in cases {
            let mut log = CloudLog::new(CloudKind::Endpoints);
            for s in &snapshots {
                log.absorb(s, Duration::ZERO);
            }
            let o = ownership(&log, &orphans, &names);
            assert_eq!(o.leaked, leaked, "{snapshots:?}");
            assert_eq!(o.orphans_kept, kept, "{snapshots:?}");
            assert_eq!(one_endpoint_per_uid(&o).len(), problems, "{snapshots:?}: {o:?}");
        }
    }
}
