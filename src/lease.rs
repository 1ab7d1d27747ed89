//! Leader election on a `coordination.k8s.io/v1` Lease, with the guarantees client-go's leaderelection
//! gives controller-runtime operators and kube-lease-manager does not:
//!
//! - a **local renew deadline**: a leader that has not renewed for [`LeaseTimings::renew_deadline`]
//!   (10 s of a 15 s Lease) steps down by itself, so it stops before another replica may take over;
//! - a **hard stop at expiry**: if in-flight work has not drained by the time the Lease could expire
//!   (measured from when the last successful renewal was *sent*), the process exits rather than write
//!   to the cloud next to a new leader;
//! - the Lease is **released only after the controller has drained** (the holder is cleared so a
//!   standby takes over at once instead of waiting out the Lease).
//!
//! The decisions are pure ([`decide`], [`standing`]); [`Elector`] does the Kubernetes I/O.

use std::time::Duration;

use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
};
use kube::{Api, Client, api::PostParams};
use tokio::{sync::watch, task::JoinHandle, time::Instant};
use tracing::{info, warn};

/// How long a Lease lasts, when the holder gives up renewing, and how often it tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseTimings {
    /// `leaseDurationSeconds`: how long a standby waits after the last renewal before it takes over.
    pub lease_duration: Duration,
    /// The holder steps down when its last successful renewal is older than this.
    pub renew_deadline: Duration,
    /// Interval between attempts (renewals by the holder, acquisitions by a standby).
    pub retry_period: Duration,
}

impl Default for LeaseTimings {
    /// client-go's defaults, scaled to a 15 s Lease.
    fn default() -> Self {
        Self {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// The Lease as observed, reduced to what the decision needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    pub holder: Option<String>,
    /// Seconds since the Unix epoch of the holder's last renewal.
    pub renewed_at: Option<i64>,
    pub duration_seconds: Option<i32>,
}

impl Observed {
    fn of(lease: &Lease) -> Self {
        let spec = lease.spec.clone().unwrap_or_default();
        Self {
            holder: spec.holder_identity.filter(|h| !h.is_empty()),
            renewed_at: spec.renew_time.or(spec.acquire_time).map(|t| t.0.as_second()),
            duration_seconds: spec.lease_duration_seconds,
        }
    }
}

/// What to do with the Lease on this attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// No Lease: create it, held by us.
    Create,
    /// We hold it: renew.
    Renew,
    /// Free (released, or expired): take it over.
    Take,
    /// Someone else holds it and it has not expired: wait.
    Standby { holder: String },
}

/// Decide, from the observed Lease and the wall clock (`now`, Unix seconds).
pub fn decide(observed: Option<&Observed>, me: &str, now: i64) -> Decision {
    let Some(o) = observed else { return Decision::Create };
    match &o.holder {
        Some(h) if h == me => Decision::Renew,
        None => Decision::Take,
        Some(h) => {
            let duration = i64::from(o.duration_seconds.unwrap_or(15).max(1));
            match o.renewed_at {
                Some(t) if now <= t + duration => Decision::Standby { holder: h.clone() },
                _ => Decision::Take,
            }
        }
    }
}

/// Where the holder stands, from the time since its last successful renewal was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Still the leader.
    Leading,
    /// Past the renew deadline: stop the controller (in-flight work drains).
    StepDown,
    /// The Lease may have expired: another replica may be the leader; stop writing now.
    Expired,
}

/// Pure: the holder's standing `since` its last successful renewal was sent.
pub fn standing(since: Duration, t: &LeaseTimings) -> Standing {
    if since >= t.lease_duration {
        Standing::Expired
    } else if since >= t.renew_deadline {
        Standing::StepDown
    } else {
        Standing::Leading
    }
}

/// The Lease spec this replica writes when it creates, takes or renews the Lease.
fn held_spec(
    prev: Option<&LeaseSpec>,
    me: &str,
    t: &LeaseTimings,
    now: jiff::Timestamp,
    taking: bool,
) -> LeaseSpec {
    let prev = prev.cloned().unwrap_or_default();
    let transitions = prev.lease_transitions.unwrap_or(0);
    LeaseSpec {
        holder_identity: Some(me.to_string()),
        lease_duration_seconds: Some(i32::try_from(t.lease_duration.as_secs()).unwrap_or(15)),
        acquire_time: if taking { Some(MicroTime(now)) } else { prev.acquire_time },
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(if taking { transitions + 1 } else { transitions }),
        ..prev
    }
}

/// Leader election failed in a way that is not "someone else holds it".
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("cannot read or write Lease {namespace}/{name}: {source}")]
    Api {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// One replica's view of one Lease.
#[derive(Clone)]
pub struct Elector {
    api: Api<Lease>,
    namespace: String,
    name: String,
    identity: String,
    timings: LeaseTimings,
}

/// Outcome of one attempt.
enum Attempt {
    Held,
    Standby(String),
}

impl Elector {
    pub fn new(client: Client, namespace: &str, name: &str, identity: &str, timings: LeaseTimings) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            timings,
        }
    }

    pub fn identity(&self) -> &str {
        &self.identity
    }

    fn api_error(&self, source: kube::Error) -> LeaseError {
        LeaseError::Api { namespace: self.namespace.clone(), name: self.name.clone(), source }
    }

    /// One attempt to create, take or renew. Conflicts (another replica wrote first) are a standby.
    async fn attempt(&self) -> Result<Attempt, LeaseError> {
        let current = self.api.get_opt(&self.name).await.map_err(|e| self.api_error(e))?;
        let now = jiff::Timestamp::now();
        let observed = current.as_ref().map(Observed::of);
        let decision = decide(observed.as_ref(), &self.identity, now.as_second());
        let written = match (decision, current) {
            (Decision::Standby { holder }, _) => return Ok(Attempt::Standby(holder)),
            (Decision::Create, _) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        namespace: Some(self.namespace.clone()),
                        ..Default::default()
                    },
                    spec: Some(held_spec(None, &self.identity, &self.timings, now, true)),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            (d, Some(mut lease)) => {
                lease.spec = Some(held_spec(
                    lease.spec.as_ref(),
                    &self.identity,
                    &self.timings,
                    now,
                    d == Decision::Take,
                ));
                // `replace` carries the resourceVersion read above: a concurrent writer makes it a 409.
                self.api.replace(&self.name, &PostParams::default(), &lease).await
            }
            (_, None) => return Ok(Attempt::Standby(String::new())),
        };
        match written {
            Ok(_) => Ok(Attempt::Held),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(Attempt::Standby(String::new())),
            Err(e) => Err(self.api_error(e)),
        }
    }

    /// Wait until this replica holds the Lease. Transient API errors are retried.
    pub async fn acquire(&self) -> Leadership {
        let mut last_holder = None;
        loop {
            let sent = Instant::now();
            match self.attempt().await {
                Ok(Attempt::Held) => {
                    info!(lease = %self.name, identity = %self.identity, "acquired leadership");
                    return Leadership::start(self.clone(), sent);
                }
                Ok(Attempt::Standby(holder)) => {
                    if !holder.is_empty() && last_holder.as_ref() != Some(&holder) {
                        info!(lease = %self.name, %holder, "standing by");
                        last_holder = Some(holder);
                    }
                }
                Err(e) => warn!(error = %e, "leader election attempt failed; retrying"),
            }
            tokio::time::sleep(self.timings.retry_period).await;
        }
    }

    /// Clear the holder (only if it is still us), so a standby takes over at once.
    async fn release(&self) -> Result<(), LeaseError> {
        let Some(mut lease) = self.api.get_opt(&self.name).await.map_err(|e| self.api_error(e))? else {
            return Ok(());
        };
        let spec = lease.spec.get_or_insert_with(Default::default);
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(jiff::Timestamp::now()));
        match self.api.replace(&self.name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
            Err(e) => Err(self.api_error(e)),
        }
    }
}

/// What the renewer reports: when the last successful renewal was sent, or that the Lease was taken.
#[derive(Clone, Copy, Debug)]
struct Held {
    renewed: Instant,
    taken_over: bool,
}

impl Held {
    fn standing(&self, t: &LeaseTimings) -> Standing {
        if self.taken_over { Standing::Expired } else { standing(self.renewed.elapsed(), t) }
    }
}

/// Held leadership: a task renews the Lease every retry period.
pub struct Leadership {
    elector: Elector,
    held: watch::Receiver<Held>,
    renewer: JoinHandle<()>,
}

impl Leadership {
    fn start(elector: Elector, renewed: Instant) -> Self {
        let (tx, rx) = watch::channel(Held { renewed, taken_over: false });
        let e = elector.clone();
        let renewer = tokio::spawn(async move {
            loop {
                tokio::time::sleep(e.timings.retry_period).await;
                let sent = Instant::now();
                match tokio::time::timeout(e.timings.retry_period * 2, e.attempt()).await {
                    Ok(Ok(Attempt::Held)) => {
                        tx.send_modify(|h| h.renewed = sent);
                    }
                    Ok(Ok(Attempt::Standby(holder))) => {
                        warn!(%holder, "the Lease was taken over");
                        tx.send_modify(|h| h.taken_over = true);
                        return;
                    }
                    Ok(Err(err)) => warn!(error = %err, "renewing the Lease failed"),
                    Err(_) => warn!("renewing the Lease timed out"),
                }
            }
        });
        Self { elector, held: rx, renewer }
    }

    /// Resolves when this replica must stop: past the renew deadline, or the Lease was taken over.
    /// From then on a hard stop is armed: if the Lease may expire before the caller has drained and
    /// called [`Leadership::release`], the process exits (a leader that cannot renew must not keep
    /// writing next to the next one).
    pub fn lost(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.held.clone();
        let t = self.elector.timings;
        async move {
            loop {
                let h = *rx.borrow_and_update();
                if h.standing(&t) != Standing::Leading {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep_until(h.renewed + t.renew_deadline) => {}
                    changed = rx.changed() => if changed.is_err() { return },
                }
            }
            tokio::spawn(async move {
                loop {
                    let h = *rx.borrow_and_update();
                    if h.standing(&t) == Standing::Expired {
                        tracing::error!("leadership lost before in-flight work drained; exiting");
                        std::process::exit(1);
                    }
                    tokio::select! {
                        _ = tokio::time::sleep_until(h.renewed + t.lease_duration) => {}
                        // Released: the renewer is gone and nothing is written any more.
                        changed = rx.changed() => if changed.is_err() { return },
                    }
                }
            });
        }
    }

    /// After the controller drained: stop renewing and clear the holder (if still ours).
    pub async fn release(self) {
        self.renewer.abort();
        let _ = self.renewer.await;
        let standing = self.held.borrow().standing(&self.elector.timings);
        if standing == Standing::Expired {
            return;
        }
        match self.elector.release().await {
            Ok(()) => info!("released the Lease"),
            Err(e) => warn!(error = %e, "could not release the Lease; it expires by itself"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(by: &str, renewed_at: i64) -> Observed {
        Observed { holder: Some(by.into()), renewed_at: Some(renewed_at), duration_seconds: Some(15) }
    }

    #[test]
    fn decide_table() {
        let now = 1_000;
        let cases: Vec<(&str, Option<Observed>, Decision)> = vec![
            ("no Lease", None, Decision::Create),
            ("ours", Some(held("me", now - 30)), Decision::Renew),
            ("released", Some(Observed { holder: None, ..held("x", now) }), Decision::Take),
            (
                "empty holder is released",
                Some(Observed { holder: None, renewed_at: None, duration_seconds: None }),
                Decision::Take,
            ),
            (
                "fresh, someone else",
                Some(held("other", now - 3)),
                Decision::Standby { holder: "other".into() },
            ),
            (
                "at the edge, still theirs",
                Some(held("other", now - 15)),
                Decision::Standby { holder: "other".into() },
            ),
            ("expired", Some(held("other", now - 16)), Decision::Take),
            ("never renewed", Some(Observed { renewed_at: None, ..held("other", 0) }), Decision::Take),
            (
                "released with a 1 s duration",
                Some(Observed { duration_seconds: Some(1), ..held("other", now - 2) }),
                Decision::Take,
            ),
        ];
        for (name, observed, want) in cases {
            assert_eq!(decide(observed.as_ref(), "me", now), want, "{name}");
        }
    }

    #[test]
    fn standing_table() {
        let t = LeaseTimings::default();
        let cases = [
            (0, Standing::Leading),
            (9_999, Standing::Leading),
            (10_000, Standing::StepDown),
            (14_999, Standing::StepDown),
            (15_000, Standing::Expired),
        ];
        for (ms, want) in cases {
            assert_eq!(standing(Duration::from_millis(ms), &t), want, "{ms} ms");
        }
        assert!(t.renew_deadline < t.lease_duration && t.retry_period * 3 < t.renew_deadline);
    }

    #[test]
    fn held_spec_counts_transitions_only_on_takeover() {
        let t = LeaseTimings::default();
        let now = jiff::Timestamp::from_second(100).unwrap();
        let prev = LeaseSpec {
            holder_identity: Some("other".into()),
            lease_transitions: Some(4),
            acquire_time: Some(MicroTime(jiff::Timestamp::from_second(1).unwrap())),
            ..Default::default()
        };
        let taken = held_spec(Some(&prev), "me", &t, now, true);
        assert_eq!(
            (taken.holder_identity.as_deref(), taken.lease_transitions, taken.lease_duration_seconds),
            (Some("me"), Some(5), Some(15))
        );
        assert_eq!(taken.acquire_time, Some(MicroTime(now)));
        let renewed = held_spec(Some(&taken), "me", &t, jiff::Timestamp::from_second(102).unwrap(), false);
        assert_eq!(renewed.lease_transitions, Some(5));
        assert_eq!(renewed.acquire_time, Some(MicroTime(now)), "acquire time kept on renewal");
        assert_eq!(renewed.renew_time.map(|t| t.0.as_second()), Some(102));
    }
}
