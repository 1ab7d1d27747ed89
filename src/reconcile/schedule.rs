//! When to look at an object again: adaptive polling while the cloud works, per-object exponential
//! backoff on errors, fixed waits for resync and terminal errors. Pure (the caller passes the clock).

use std::time::{Duration, Instant};

use rand::Rng;

/// First poll after a Create or an update.
pub const FIRST_POLL: Duration = Duration::from_secs(1);
/// Longest poll interval while the cloud works.
pub const MAX_POLL: Duration = Duration::from_secs(15);
/// How often a `FinancialLocked` service (blocked until the account is settled) is looked at again.
pub const LOCKED_RECHECK: Duration = Duration::from_secs(300);
/// Polls at [`FIRST_POLL`] before the interval starts to grow (covers typical Creating times with
/// sub-second controller overhead).
const FAST_POLLS: u32 = 20;
/// Longest error backoff.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// What to wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Poll the cloud while it is busy, with a growing interval.
    Poll,
    /// Look again after this delay.
    Soon(Duration),
    /// A fixed wait (resync, terminal safety retry); resets poll and error counters.
    Fixed(Duration),
    /// Exponential backoff from `base`, at least `hint` (the server's retry-after).
    Backoff { base: Duration, hint: Option<Duration> },
}

/// Per-object scheduling memory.
#[derive(Clone, Debug, Default)]
pub struct Gate {
    generation: Option<i64>,
    deleting: bool,
    not_before: Option<Instant>,
    paused: bool,
    polls: u32,
    failures: u32,
}

fn jitter(d: Duration, spread: f64) -> Duration {
    let f = 1.0 + rand::rng().random_range(-spread..=spread);
    d.mul_f64(f.max(0.0))
}

/// Poll interval after `polls` consecutive polls (no jitter).
pub fn poll_interval(polls: u32) -> Duration {
    if polls < FAST_POLLS {
        return FIRST_POLL;
    }
    let grown = FIRST_POLL.as_secs_f64() * 1.5f64.powi((polls - FAST_POLLS + 1).min(16) as i32);
    Duration::from_secs_f64(grown).min(MAX_POLL)
}

/// Backoff after `failures` consecutive failures (no jitter).
pub fn backoff(base: Duration, failures: u32) -> Duration {
    base.saturating_mul(1u32 << failures.saturating_sub(1).min(10)).min(MAX_BACKOFF)
}

impl Gate {
    /// Time left to wait if the object has not changed in a way that matters since the wait began
    /// (a new generation, the start of deletion, pausing or resuming always passes).
    pub fn remaining<K: kube::ResourceExt>(&self, obj: &K, now: Instant) -> Option<Duration> {
        let nb = self.not_before?;
        let same = self.generation == obj.meta().generation
            && self.deleting == obj.meta().deletion_timestamp.is_some()
            && self.paused == super::control::is_paused(obj);
        (same && nb > now).then(|| nb - now)
    }

    /// Record the next wait and return its length.
    pub fn schedule<K: kube::ResourceExt>(&mut self, obj: &K, wait: Wait, now: Instant) -> Duration {
        let d = match wait {
            Wait::Poll => {
                self.failures = 0;
                self.polls += 1;
                jitter(poll_interval(self.polls - 1), 0.1)
            }
            Wait::Soon(d) => {
                self.failures = 0;
                d
            }
            Wait::Fixed(d) => {
                self.failures = 0;
                self.polls = 0;
                jitter(d, 0.05)
            }
            Wait::Backoff { base, hint } => {
                self.failures += 1;
                let d = jitter(backoff(base, self.failures), 0.2);
                hint.map_or(d, |h| d.max(h))
            }
        };
        self.generation = obj.meta().generation;
        self.deleting = obj.meta().deletion_timestamp.is_some();
        self.paused = super::control::is_paused(obj);
        self.not_before = Some(now + d);
        d
    }
}

/// The next wake-up of a Ready object, `until_full` before its next full pass (Get and drift checks):
/// a connection poll after `poll` when one is needed and the full pass is more than one and a half
/// polls away, else the full pass itself (which lists the connections too, so it replaces a poll).
/// Returns (wait, whether that wake-up is a poll).
pub fn next_wake(poll_needed: bool, poll: Duration, until_full: Duration) -> (Duration, bool) {
    if poll_needed && until_full > poll.mul_f64(1.5) { (poll, true) } else { (until_full, false) }
}

/// Where in `period` an object's first full pass falls after the operator starts (a restart, a new
/// leader): spread by UID, so 10,000 Ready objects are re-read over a resync period, not at once.
pub fn spread(uid: &str, period: Duration) -> Duration {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    uid.hash(&mut h);
    let millis = period.as_millis().max(1) as u64;
    Duration::from_millis(h.finish() % millis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::service;

    #[test]
    fn next_wake_table() {
        let s = Duration::from_secs;
        let cases = [
            (false, s(600), (s(600), false)),
            (true, s(600), (s(30), true)),
            (true, s(46), (s(30), true)),
            // The full pass is near: it comes instead of a poll (one listing per interval, not two).
            (true, s(45), (s(45), false)),
            (true, s(20), (s(20), false)),
            (true, s(0), (s(0), false)),
        ];
        for (needed, until_full, want) in cases {
            assert_eq!(next_wake(needed, s(30), until_full), want, "{needed} {until_full:?}");
        }
        // Over one resync of 600 s with a 30 s poll: 19 polls + the full pass = 20 listings = 1 per 30 s.
        let (mut left, mut polls) = (s(600), 0);
        while let (w, true) = next_wake(true, s(30), left) {
            left -= w;
            polls += 1;
        }
        assert_eq!(polls + 1, 20);
    }

    #[test]
    fn poll_intervals_start_fast_then_grow_to_cap() {
        assert_eq!(poll_interval(0), FIRST_POLL);
        assert_eq!(poll_interval(FAST_POLLS - 1), FIRST_POLL);
        assert!(poll_interval(FAST_POLLS) > FIRST_POLL);
        assert!(poll_interval(FAST_POLLS + 1) > poll_interval(FAST_POLLS));
        assert_eq!(poll_interval(1000), MAX_POLL);
    }

    #[test]
    fn backoff_doubles_to_cap() {
        let b = Duration::from_secs(5);
        let got: Vec<u64> = (1..=9).map(|n| backoff(b, n).as_secs()).collect();
        assert_eq!(got, vec![5, 10, 20, 40, 80, 160, 300, 300, 300]);
    }

    #[test]
    fn gate_swallows_echoes_but_not_spec_changes_or_deletion() {
        let obj = service("a", "u");
        let t0 = Instant::now();
        let mut g = Gate::default();
        let d = g.schedule(&obj, Wait::Fixed(Duration::from_secs(60)), t0);
        assert!(d >= Duration::from_secs(55));
        assert!(
            g.remaining(&obj, t0 + Duration::from_secs(1)).is_some(),
            "echo of our own write is swallowed"
        );
        assert!(g.remaining(&obj, t0 + Duration::from_secs(70)).is_none(), "wait over");
        let mut edited = obj.clone();
        edited.metadata.generation = Some(2);
        assert!(g.remaining(&edited, t0).is_none(), "spec change passes");
        let mut deleting = obj.clone();
        deleting.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now()));
        assert!(g.remaining(&deleting, t0).is_none(), "deletion passes");
        let mut paused = obj.clone();
        paused.metadata.annotations =
            Some([(super::super::control::PAUSED_ANNOTATION.to_string(), "true".to_string())].into());
        assert!(g.remaining(&paused, t0).is_none(), "pausing passes");
        g.schedule(&paused, Wait::Fixed(Duration::from_secs(60)), t0);
        assert!(g.remaining(&obj, t0).is_none(), "resuming passes");
    }

    #[test]
    fn backoff_honours_retry_after_and_resets_on_success() {
        let obj = service("a", "u");
        let t0 = Instant::now();
        let mut g = Gate::default();
        let hint = Some(Duration::from_secs(40));
        let d = g.schedule(&obj, Wait::Backoff { base: Duration::from_secs(5), hint }, t0);
        assert!(d >= Duration::from_secs(40), "{d:?}");
        let d2 = g.schedule(&obj, Wait::Backoff { base: Duration::from_secs(5), hint: None }, t0);
        assert!(d2 >= Duration::from_secs(8), "second failure doubles: {d2:?}");
        g.schedule(&obj, Wait::Soon(Duration::ZERO), t0);
        let d3 = g.schedule(&obj, Wait::Backoff { base: Duration::from_secs(5), hint: None }, t0);
        assert!(d3 <= Duration::from_secs(6), "success resets the count: {d3:?}");
    }

    #[test]
    fn first_passes_after_a_start_spread_over_the_period() {
        let period = Duration::from_secs(600);
        let mut buckets = [0u32; 10];
        for i in 0..10_000 {
            let d = spread(&format!("uid-{i}"), period);
            assert!(d < period);
            buckets[(d.as_secs() / 60) as usize] += 1;
        }
        // Each minute of the period gets about a tenth (no wave at start).
        assert!(buckets.iter().all(|b| (800..1200).contains(b)), "{buckets:?}");
        assert_eq!(spread("same", period), spread("same", period), "stable for an object");
        assert_eq!(spread("x", Duration::ZERO), Duration::ZERO);
    }
}
