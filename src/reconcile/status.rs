//! Status and conditions: pure construction, and the server-side-apply patch that writes them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
};
use serde_json::json;

use crate::{
    alicloud::ops::ServiceAttributes,
    crd::{VpcEndpointService, VpcEndpointServiceStatus},
    error::Result,
};

/// Field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "privatelink-operator";

/// Condition types.
pub mod cond {
    /// The service is Active and matches the spec.
    pub const READY: &str = "Ready";
    /// The last reconciliation succeeded.
    pub const SYNCED: &str = "Synced";
    /// Work is in progress (kstatus "abnormal-true" condition).
    pub const RECONCILING: &str = "Reconciling";
    /// A terminal error: the spec or configuration must change (kstatus "Failed").
    pub const STALLED: &str = "Stalled";
}

/// Where an object stands, as the conditions express it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The cloud resource is being created, updated or deleted (reason, message).
    Progressing { reason: String, message: String },
    /// Active and in sync.
    Available { message: String },
    /// A cloud or configuration error (reason, message, terminal).
    Failed { reason: String, message: String, terminal: bool },
    /// A transient error while the service is Ready for this generation: it still works, so `Ready`
    /// stays True (no Argo CD / Flux flapping) and `Synced` carries the error.
    Degraded { reason: String, message: String },
}

impl Phase {
    /// The phase for an error: transient errors on a Ready service degrade it, everything else fails.
    pub fn for_error(reason: String, message: String, terminal: bool, ready_for_generation: bool) -> Self {
        if ready_for_generation && !terminal {
            Phase::Degraded { reason, message }
        } else {
            Phase::Failed { reason, message, terminal }
        }
    }

    /// Whether `Ready` is True in this phase.
    pub fn is_ready(&self) -> bool {
        matches!(self, Phase::Available { .. } | Phase::Degraded { .. })
    }
}

/// Set a condition, keeping `lastTransitionTime` when the status value does not change.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: &Time,
) {
    let status = if status { "True" } else { "False" }.to_string();
    let existing = conditions.iter().position(|c| c.type_ == type_);
    let last_transition_time = match existing {
        Some(i) if conditions[i].status == status => conditions[i].last_transition_time.clone(),
        _ => now.clone(),
    };
    let c = Condition {
        type_: type_.to_string(),
        status,
        reason: reason.to_string(),
        message: message.to_string(),
        observed_generation: generation,
        last_transition_time,
    };
    match existing {
        Some(i) => conditions[i] = c,
        None => conditions.push(c),
    }
}

/// Apply a phase to a status: all four conditions plus `observedGeneration`.
pub fn apply_phase(
    status: &mut VpcEndpointServiceStatus,
    phase: &Phase,
    generation: Option<i64>,
    now: &Time,
) {
    apply_phase_to(&mut status.conditions, phase, generation, now);
    status.observed_generation = generation;
}

/// Apply a phase to the conditions of an object of any kind (the caller sets `observedGeneration`).
pub fn apply_phase_to(c: &mut Vec<Condition>, phase: &Phase, generation: Option<i64>, now: &Time) {
    match phase {
        Phase::Progressing { reason, message } => {
            set_condition(c, cond::READY, false, reason, message, generation, now);
            set_condition(c, cond::SYNCED, true, "ReconcileSuccess", "", generation, now);
            set_condition(c, cond::RECONCILING, true, reason, message, generation, now);
            set_condition(c, cond::STALLED, false, "NoError", "", generation, now);
        }
        Phase::Available { message } => {
            set_condition(c, cond::READY, true, "Available", message, generation, now);
            set_condition(c, cond::SYNCED, true, "ReconcileSuccess", "", generation, now);
            set_condition(c, cond::RECONCILING, false, "Available", "", generation, now);
            set_condition(c, cond::STALLED, false, "NoError", "", generation, now);
        }
        Phase::Degraded { reason, message } => {
            // Ready keeps its reason and message (and transition time): only Synced changes.
            if !c.iter().any(|x| x.type_ == cond::READY && x.status == "True") {
                set_condition(c, cond::READY, true, "Available", "", generation, now);
            }
            set_condition(c, cond::SYNCED, false, reason, message, generation, now);
            set_condition(c, cond::RECONCILING, false, "Available", "", generation, now);
            set_condition(c, cond::STALLED, false, "NoError", "", generation, now);
        }
        Phase::Failed { reason, message, terminal } => {
            set_condition(c, cond::READY, false, reason, message, generation, now);
            set_condition(c, cond::SYNCED, false, "ReconcileError", message, generation, now);
            // A retryable error is still progress towards the goal; a terminal one is not.
            set_condition(c, cond::RECONCILING, !terminal, reason, message, generation, now);
            set_condition(
                c,
                cond::STALLED,
                *terminal,
                if *terminal { reason } else { "NoError" },
                if *terminal { message } else { "" },
                generation,
                now,
            );
        }
    }
}

/// Copy the cloud's view of the service into the status.
pub fn absorb_attributes(status: &mut VpcEndpointServiceStatus, attrs: &ServiceAttributes) {
    status.service_id = Some(attrs.service_id.clone());
    if attrs.service_name.is_some() {
        status.service_name = attrs.service_name.clone();
    }
    if attrs.service_domain.is_some() {
        status.service_domain = attrs.service_domain.clone();
    }
    status.service_status = attrs.service_status.clone();
    status.service_business_status = attrs.service_business_status.clone();
    if attrs.create_time.is_some() {
        status.create_time = attrs.create_time.clone();
    }
}

/// The condition of a type, if set.
pub fn condition<'a>(status: Option<&'a VpcEndpointServiceStatus>, type_: &str) -> Option<&'a Condition> {
    status.and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
}

/// Whether the object is Ready for its current generation.
pub fn is_ready_for_generation(obj: &VpcEndpointService) -> bool {
    condition(obj.status.as_ref(), cond::READY)
        .is_some_and(|c| c.status == "True" && c.observed_generation == obj.metadata.generation)
}

/// Write the status with server-side apply (force), only when it differs from what the object has.
/// Returns whether a patch was sent.
pub async fn write_status(
    api: &Api<VpcEndpointService>,
    obj: &VpcEndpointService,
    status: &VpcEndpointServiceStatus,
) -> Result<bool> {
    if obj.status.as_ref() == Some(status) {
        return Ok(false);
    }
    let patch = json!({
        "apiVersion": "privatelink.alicloud.dev/v1alpha1",
        "kind": "VpcEndpointService",
        "status": status,
    });
    api.patch_status(&obj.name_any(), &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&patch))
        .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Time {
        Time(jiff::Timestamp::from_second(s).unwrap())
    }

    #[test]
    fn transition_time_moves_only_when_status_changes() {
        let mut c = vec![];
        set_condition(&mut c, "Ready", false, "Creating", "a", Some(1), &t(100));
        set_condition(&mut c, "Ready", false, "Creating", "b", Some(2), &t(200));
        assert_eq!(c[0].last_transition_time, t(100));
        assert_eq!(c[0].message, "b");
        assert_eq!(c[0].observed_generation, Some(2));
        set_condition(&mut c, "Ready", true, "Available", "", Some(2), &t(300));
        assert_eq!(c[0].last_transition_time, t(300));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn transient_errors_degrade_a_ready_service_and_fail_the_rest() {
        let cases = [
            (true, false, true, "Degraded"),
            (true, true, false, "Failed"),
            (false, false, false, "Failed"),
            (false, true, false, "Failed"),
        ];
        for (ready, terminal, still_ready, kind) in cases {
            let p = Phase::for_error("X".into(), "m".into(), terminal, ready);
            assert_eq!(p.is_ready(), still_ready, "ready {ready} terminal {terminal}");
            assert_eq!(matches!(p, Phase::Degraded { .. }), kind == "Degraded");
        }
    }

    #[test]
    fn phases_map_to_kstatus_conditions() {
        let get = |s: &VpcEndpointServiceStatus, ty: &str| {
            let c = s.conditions.iter().find(|c| c.type_ == ty).unwrap();
            (c.status.clone(), c.reason.clone())
        };
        let cases = [
            (
                Phase::Progressing { reason: "Creating".into(), message: "m".into() },
                [
                    ("Ready", "False", "Creating"),
                    ("Reconciling", "True", "Creating"),
                    ("Stalled", "False", "NoError"),
                ],
            ),
            (
                Phase::Available { message: "m".into() },
                [
                    ("Ready", "True", "Available"),
                    ("Reconciling", "False", "Available"),
                    ("Stalled", "False", "NoError"),
                ],
            ),
            (
                Phase::Failed { reason: "LoadBalancerNotFound".into(), message: "m".into(), terminal: true },
                [
                    ("Ready", "False", "LoadBalancerNotFound"),
                    ("Reconciling", "False", "LoadBalancerNotFound"),
                    ("Stalled", "True", "LoadBalancerNotFound"),
                ],
            ),
            (
                Phase::Failed { reason: "ThrottlingUser".into(), message: "m".into(), terminal: false },
                [
                    ("Ready", "False", "ThrottlingUser"),
                    ("Reconciling", "True", "ThrottlingUser"),
                    ("Stalled", "False", "NoError"),
                ],
            ),
            (
                Phase::Degraded { reason: "ThrottlingUser".into(), message: "m".into() },
                [
                    ("Ready", "True", "Available"),
                    ("Synced", "False", "ThrottlingUser"),
                    ("Stalled", "False", "NoError"),
                ],
            ),
        ];
        for (phase, want) in cases {
            let mut s = VpcEndpointServiceStatus::default();
            if matches!(phase, Phase::Degraded { .. }) {
                apply_phase(&mut s, &Phase::Available { message: "up".into() }, Some(3), &t(0));
            }
            apply_phase(&mut s, &phase, Some(3), &t(1));
            assert_eq!(s.observed_generation, Some(3));
            for (ty, st, reason) in want {
                assert_eq!(get(&s, ty), (st.to_string(), reason.to_string()), "{phase:?} {ty}");
            }
        }
    }
}
