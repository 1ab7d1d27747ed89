//! The invariants, as plain functions over what the run observed, and the table of figures.

use std::{collections::BTreeMap, fmt::Write as _, time::Duration};

use crate::observe::Transition;

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
}
