//! When to look at a new service first: learnt from what the first reads of earlier services found.
//!
//! Alibaba reports no progress while a service is `Creating`, so every read before it turns `Active` is a
//! wasted call, and under the account's rate limit calls per resource *is* the speed. The first poll after
//! a Create is therefore scheduled from experience, per region and resource type:
//!
//! * until a service of that kind has been seen `Active`, after [`FIRST_POLL`] (1 s), then every second;
//! * the first `Active` seen sets the first poll to [`SEED`] × the time it took;
//! * from then on, once per epoch (as long as the first poll itself), the first reads of that epoch
//!   vote: if more than about one in three found the service still `Creating` (wasted calls), the first
//!   poll gets longer; if fewer than one in ten did (the poll could have come earlier), it gets shorter;
//!   in between it stays. So most services cost one Create and one Get, and a Creating time that changes
//!   (another region, a busy period) is followed within a few epochs.
//!
//! One step per epoch, whatever the number of reads: a burst of a thousand services, all scheduled with
//! the same estimate, moves it once, not a thousand times. What a read finds depends on when it actually
//! ran, and a queue that delays reads (a burst, the rate limit) makes them find `Active`, which moves the
//! estimate down, never up. Always between [`FIRST_POLL`] and [`MAX_FIRST_POLL`]. Pure (the caller passes
//! the clock).

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

pub use super::schedule::FIRST_POLL;

/// Latest first poll, whatever was learnt (a slow period must not leave a service unwatched).
pub const MAX_FIRST_POLL: Duration = Duration::from_secs(60);
/// Fraction of the first observed Creating time at which the first poll starts.
pub const SEED: f64 = 0.8;

/// The step of one epoch from the share of its first reads that found the service still Creating.
pub fn step(creating_share: f64) -> f64 {
    match creating_share {
        s if s > 0.5 => 1.3,
        s if s > 0.35 => 1.1,
        s if s >= 0.1 => 1.0,
        s if s > 0.0 => 0.95,
        _ => 0.85,
    }
}

/// What a read of a service just created found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Read {
    /// The first read after the Create (the one the estimate schedules).
    pub first: bool,
    /// The service was `Active`.
    pub active: bool,
    /// Time since the Create answered.
    pub after: Duration,
}

#[derive(Clone, Copy, Debug)]
struct Pace {
    first_poll: Duration,
    epoch_started: Instant,
    active: u32,
    creating: u32,
}

/// The learnt first poll per (region, resource type).
#[derive(Debug, Default)]
pub struct CreatingTimes {
    paces: HashMap<(String, String), Pace>,
}

impl CreatingTimes {
    /// Learn from a read of a service of `kind` in `region` that was just created, made at `now`.
    pub fn observe(&mut self, region: &str, kind: &str, read: Read, now: Instant) {
        let key = (region.to_string(), kind.to_string());
        let Some(p) = self.paces.get_mut(&key) else {
            if read.active {
                let first_poll = read.after.mul_f64(SEED).clamp(FIRST_POLL, MAX_FIRST_POLL);
                self.paces.insert(key, Pace { first_poll, epoch_started: now, active: 0, creating: 0 });
            }
            return;
        };
        if !read.first {
            return;
        }
        if read.active {
            p.active += 1;
        } else {
            p.creating += 1;
        }
        if now.saturating_duration_since(p.epoch_started) >= p.first_poll {
            let share = f64::from(p.creating) / f64::from(p.active + p.creating);
            p.first_poll = p.first_poll.mul_f64(step(share)).clamp(FIRST_POLL, MAX_FIRST_POLL);
            *p = Pace { epoch_started: now, active: 0, creating: 0, ..*p };
        }
    }

    /// When to poll a service of `kind` in `region` just created.
    pub fn first_poll(&self, region: &str, kind: &str) -> Duration {
        self.paces.get(&(region.to_string(), kind.to_string())).map_or(FIRST_POLL, |p| p.first_poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn read(first: bool, active: bool, after: f64) -> Read {
        Read { first, active, after: secs(after) }
    }

    #[test]
    fn first_poll_table() {
        // (case, reads in order as (seconds since start, read), asked (region, kind), first poll in s)
        type Case = (&'static str, Vec<(f64, Read)>, (&'static str, &'static str), f64);
        let cases: Vec<Case> = vec![
            ("nothing seen yet: the fixed first poll", vec![], ("r", "nlb"), 1.0),
            (
                "only Creating seen: still the fixed first poll",
                vec![(1.0, read(true, false, 1.0))],
                ("r", "nlb"),
                1.0,
            ),
            (
                "the first Active seeds it",
                vec![(1.0, read(true, false, 1.0)), (5.0, read(false, true, 5.0))],
                ("r", "nlb"),
                4.0,
            ),
            (
                "within an epoch nothing moves",
                vec![
                    (5.0, read(false, true, 5.0)),
                    (6.0, read(true, false, 4.0)),
                    (7.0, read(true, false, 4.0)),
                ],
                ("r", "nlb"),
                4.0,
            ),
            (
                "an epoch of Creating first reads lengthens it once",
                vec![
                    (5.0, read(false, true, 5.0)),
                    (6.0, read(true, false, 4.0)),
                    (9.5, read(true, false, 4.0)),
                ],
                ("r", "nlb"),
                5.2,
            ),
            (
                "an epoch of Active first reads shortens it",
                vec![
                    (5.0, read(false, true, 5.0)),
                    (6.0, read(true, true, 4.0)),
                    (9.5, read(true, true, 4.0)),
                ],
                ("r", "nlb"),
                3.4,
            ),
            (
                "later reads of a service do not count",
                vec![
                    (5.0, read(false, true, 5.0)),
                    (6.0, read(false, false, 6.0)),
                    (9.5, read(false, false, 9.0)),
                ],
                ("r", "nlb"),
                4.0,
            ),
            ("another region learns on its own", vec![(5.0, read(false, true, 5.0))], ("q", "nlb"), 1.0),
            ("another type learns on its own", vec![(5.0, read(false, true, 5.0))], ("r", "slb"), 1.0),
            ("never before the fixed first poll", vec![(0.3, read(false, true, 0.3))], ("r", "nlb"), 1.0),
            ("never later than the cap", vec![(600.0, read(false, true, 600.0))], ("r", "nlb"), 60.0),
        ];
        let t0 = Instant::now();
        for (case, reads, (region, kind), want) in cases {
            let mut t = CreatingTimes::default();
            for (at, r) in reads {
                t.observe("r", "nlb", r, t0 + secs(at));
            }
            let got = t.first_poll(region, kind).as_secs_f64();
            assert!((got - want).abs() < 1e-9, "{case}: {got} != {want}");
        }
    }

    #[test]
    fn step_table() {
        for (share, want) in [(0.0, 0.85), (0.05, 0.95), (0.1, 1.0), (0.3, 1.0), (0.4, 1.1), (0.9, 1.3)] {
            assert_eq!(step(share), want, "{share}");
        }
    }

    /// Bursts of services that take `creating` seconds (±10 %), read first at the estimate plus a queue
    /// delay: the estimate settles near the Creating time from a seed far above or below, and a thousand
    /// reads at once move it one step, not a thousand.
    #[test]
    fn settles_near_the_creating_time_and_batches_do_not_run_away() {
        let t0 = Instant::now();
        for (seed_after, creating, queue) in
            [(30.0, 5.0, 0.0), (1.5, 5.0, 0.0), (5.0, 12.0, 0.0), (5.0, 5.0, 8.0)]
        {
            let mut t = CreatingTimes::default();
            t.observe("r", "nlb", read(false, true, seed_after), t0);
            let mut now = 0.0;
            for round in 0..60 {
                let at = t.first_poll("r", "nlb").as_secs_f64();
                now += at + queue;
                let before = t.first_poll("r", "nlb");
                for i in 0..1000 {
                    let took = creating * (0.9 + 0.2 * ((i * 37 % 100) as f64 / 100.0));
                    let actual = at + queue;
                    t.observe("r", "nlb", read(true, actual >= took, actual), t0 + secs(now));
                }
                let after = t.first_poll("r", "nlb");
                let ratio = after.as_secs_f64() / before.as_secs_f64();
                assert!((0.84..=1.31).contains(&ratio), "round {round}: one step per epoch, got x{ratio}");
            }
            let settled = t.first_poll("r", "nlb").as_secs_f64();
            if queue == 0.0 {
                assert!(
                    settled > creating * 0.8 && settled < creating * 1.35,
                    "{seed_after}/{creating}: {settled}"
                );
            } else {
                // Delayed reads find Active: the estimate goes down (to the fixed first poll), never up.
                assert!(settled <= seed_after * SEED, "{seed_after}/{creating}/{queue}: {settled}");
            }
        }
    }
}
