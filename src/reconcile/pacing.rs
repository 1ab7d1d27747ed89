//! When to look at a new service first: learnt from what the first reads of earlier services found.
//!
//! Alibaba reports no progress while a service is `Creating`, so every read before it turns `Active` is a
//! wasted call, and under the account's rate limit calls per resource *is* the speed. The first poll after
//! a Create is therefore scheduled from experience, per region and resource type:
//!
//! * until a service of that kind has been seen `Active`, after [`FIRST_POLL`] (1 s), then every second;
//! * the first `Active` seen sets the first poll: when the read before it found the service still
//!   `Creating`, the Creating time lies between the two reads; that bracket is kept and the first poll
//!   starts in its middle (its late side was measured late: the reads were a second apart and queued
//!   behind a burst, and the first bisection step would only come an epoch later, two epochs before
//!   its reads vote); else the first poll is [`SEED`] × the time it took;
//! * from then on, once per epoch (as long as the first poll itself), the first reads of that epoch
//!   vote: if more than about one in three found the service still `Creating` (wasted calls), the first
//!   poll gets longer; if fewer than one in ten did (the poll could have come earlier), it gets shorter;
//!   in between it stays. A first poll that was too early is remembered as a lower bound, one that was
//!   late as an upper bound, and the next step goes halfway to the bound on the other side when there is
//!   one (bisection), so the estimate settles on the Creating time instead of swinging around it (fixed
//!   steps up and down do not cancel: ×1.3 then ×0.85 ratchets upward by 10 % a round). A bracket
//!   narrower than 2 % has converged. A bound an epoch contradicts is dropped and one not confirmed for
//!   8 epochs expires, so a Creating time that changes (another region, a busy period) is followed
//!   within a few epochs; the first step after an expiry goes halfway back to the expired bound, not a
//!   plain step past it, so an unchanged Creating time costs an epoch of reads a little early, each
//!   followed up once. So most services cost one Create and one Get;
//! * an epoch votes with when its reads ran, not when they were planned: a read that queued (for a
//!   slot, for the account's budget) and then found `Active` says nothing about an earlier time, so the
//!   estimate does not drift below the Creating time while reads queue (measured before: a 5 s Creating
//!   time, reads queued ~0.5 s, the estimate down to 4.0 s, and every lull in the queue then read early);
//! * a first read that found the service still `Creating` was only a little early: the next read follows
//!   a fortieth of the first poll later ([`CreatingTimes::follow_up`], 100 ms to 1 s) rather than a second;
//!   while the account's budget is saturated (new work waits for it, so every read delays a Create),
//!   at the late side of the bracket, or an eighth of the first poll later: one more read, not several;
//! * a service created before anything was learnt is read every second until then; once a first poll is
//!   learnt, its next read waits for it (time since its Create) instead of going on every second, which
//!   is fewer reads. While the bracket is still open, that read goes to its middle (never later than the
//!   first poll): a read there that is early costs a few follow-ups of ~125 ms, one that is late costs at
//!   most half the bracket instead of all of it.
//!
//! One step per epoch, whatever the number of reads: a burst of a thousand services, all scheduled with
//! the same estimate, moves it once, not a thousand times. Always between [`FIRST_POLL`] and
//! [`MAX_FIRST_POLL`]. Pure (the caller passes the clock and whether the budget is saturated).

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
    /// The first poll this service was scheduled with, when it came from what was learnt (a service
    /// created before anything was learnt tests no estimate and does not vote).
    pub planned: Option<Duration>,
    /// When the previous read of this service found it still `Creating` (time since the Create).
    pub creating_before: Option<Duration>,
}

#[derive(Clone, Copy, Debug)]
struct Pace {
    first_poll: Duration,
    epoch_started: Instant,
    active: u32,
    creating: u32,
    /// Sum of the times after their Create at which this epoch's voting reads ran, in seconds.
    ran_sum: f64,
    /// Epochs so far.
    epoch: u32,
    bracket: Bracket,
}

/// Share of an epoch's first reads that found `Creating`, above which the first poll was too early.
const TOO_EARLY: f64 = 0.35;
/// Share below which the first poll could have come earlier.
const TOO_LATE: f64 = 0.1;
/// A bracket this narrow (relative to the estimate) has converged.
const BOUND_MARGIN: f64 = 0.02;
/// A bound not confirmed for this many epochs expires (the Creating time may have changed).
const BOUND_EPOCHS: u32 = 8;
/// Shortest follow-up read after a first read that came too early.
pub const MIN_FOLLOW_UP: Duration = Duration::from_millis(100);
/// A follow-up read comes this fraction of the first poll after a read that found `Creating`.
const FOLLOW_UP_DIVISOR: f64 = 40.0;
/// The same while the account's budget is saturated (see [`CreatingTimes::follow_up`]).
const SATURATED_FOLLOW_UP_DIVISOR: f64 = 8.0;

/// A first poll that was too early (`below`) or late (`above`), and the epoch that last confirmed it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Bound {
    at: Duration,
    epoch: u32,
}

/// The bracket learnt so far around the best first poll.
#[derive(Clone, Copy, Debug, Default)]
struct Bracket {
    below: Option<Bound>,
    above: Option<Bound>,
}

/// The next first poll after `epoch`, whose voting reads ran `at` after their Create on average and of
/// which `share` found `Creating`; `fp` is the first poll now. Steps and bounds start from `at`, when the
/// reads ran (an epoch's reads were planned an epoch before, and a queue of slots or of the account's
/// budget delays them: a read that ran late and found `Active` says nothing about an earlier time, so
/// the estimate does not drift down while reads queue). Within a bracket the next is halfway between its
/// bounds; a bracket narrower than [`BOUND_MARGIN`] has converged (its late side); a bound the epoch
/// contradicts is dropped, and one not confirmed for [`BOUND_EPOCHS`] expires, so a Creating time that
/// changed is found too. An expired bound the epoch does not contradict is where the next step goes
/// first (halfway to it): a Creating time that did not change then costs an epoch of reads a little
/// early, not a plain step's worth of reads far too early (measured: a step of ×0.85 below a 5 s
/// Creating time put ~6 follow-ups on every service of two epochs, every 40 s of a long burst).
fn next_first_poll(fp: Duration, at: Duration, share: f64, epoch: u32, br: &mut Bracket) -> Duration {
    let fresh = |b: Option<Bound>| b.filter(|b| epoch.saturating_sub(b.epoch) <= BOUND_EPOCHS);
    let (below, above) = (fresh(br.below), fresh(br.above));
    let mid = |a: Duration, b: Duration| (a + b) / 2;
    let wider = |lo: Duration, hi: Duration| hi > lo.mul_f64(1.0 + BOUND_MARGIN);
    if share > TOO_EARLY {
        let b = below.map_or(at, |b| b.at.max(at));
        br.below = Some(Bound { at: b, epoch });
        match (above, br.above) {
            (Some(a), _) if a.at > b => {
                if wider(b, a.at) {
                    mid(b, a.at)
                } else {
                    a.at
                }
            }
            (None, Some(stale)) if stale.at > b => {
                fp.max(if wider(b, stale.at) { mid(b, stale.at) } else { stale.at })
            }
            _ => {
                br.above = None;
                fp.max(b.mul_f64(step(share)))
            }
        }
    } else if share < TOO_LATE {
        let a = above.map_or(at, |a| a.at.min(at));
        br.above = Some(Bound { at: a, epoch });
        match (below, br.below) {
            (Some(b), _) if b.at < a => {
                let next = if wider(b.at, a) { mid(b.at, a) } else { a };
                next.min(fp)
            }
            (None, Some(stale)) if stale.at < a => {
                fp.min(if wider(stale.at, a) { mid(stale.at, a) } else { stale.at })
            }
            _ => {
                br.below = None;
                fp.min(a.mul_f64(step(share)))
            }
        }
    } else {
        fp
    }
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
                // Read Creating at `lo` and Active at `after`: the Creating time is between, and the
                // first poll starts in the middle of that bracket (the reads before were a second apart
                // and queued, so its late side is late by up to all of that); otherwise at [`SEED`] ×
                // the time it took.
                let (first_poll, bracket) = match read.creating_before {
                    Some(lo) => (
                        (lo + read.after) / 2,
                        Bracket {
                            below: Some(Bound { at: lo, epoch: 0 }),
                            above: Some(Bound { at: read.after, epoch: 0 }),
                        },
                    ),
                    None => (read.after.mul_f64(SEED), Bracket::default()),
                };
                let first_poll = first_poll.clamp(FIRST_POLL, MAX_FIRST_POLL);
                let pace = Pace {
                    first_poll,
                    epoch_started: now,
                    active: 0,
                    creating: 0,
                    ran_sum: 0.0,
                    epoch: 0,
                    bracket,
                };
                self.paces.insert(key, pace);
            }
            return;
        };
        if !read.first || read.planned.is_none() {
            return;
        }
        if read.active {
            p.active += 1;
        } else {
            p.creating += 1;
        }
        // What a read found depends on when it ran, not when it was planned: a read delayed by the queue
        // (slots, the account's budget) that finds `Active` says nothing about an earlier one.
        p.ran_sum += read.after.as_secs_f64();
        if now.saturating_duration_since(p.epoch_started) >= p.first_poll {
            let reads = f64::from(p.active + p.creating);
            let (share, at) = (f64::from(p.creating) / reads, Duration::from_secs_f64(p.ran_sum / reads));
            let next = next_first_poll(p.first_poll, at, share, p.epoch, &mut p.bracket);
            p.first_poll = next.clamp(FIRST_POLL, MAX_FIRST_POLL);
            tracing::debug!(
                region,
                kind,
                share,
                at_s = at.as_secs_f64(),
                first_poll_s = p.first_poll.as_secs_f64(),
                "first poll learnt"
            );
            *p = Pace { epoch_started: now, active: 0, creating: 0, ran_sum: 0.0, epoch: p.epoch + 1, ..*p };
        }
    }

    /// Every first poll learnt so far: (region, kind, first poll).
    pub fn all_learnt(&self) -> impl Iterator<Item = (&str, &str, Duration)> {
        self.paces.iter().map(|((region, kind), p)| (region.as_str(), kind.as_str(), p.first_poll))
    }

    /// The first poll learnt for `kind` in `region`, if anything was learnt yet.
    pub fn learnt(&self, region: &str, kind: &str) -> Option<Duration> {
        self.paces.get(&(region.to_string(), kind.to_string())).map(|p| p.first_poll)
    }

    /// When to read again a service that a read `after` its Create found still `Creating`:
    /// * read before the learnt first poll (it was created before anything was learnt): at the first
    ///   poll, or at the middle of the bracket around it while that is open;
    /// * else, while the service is not unusually slow (under twice the first poll):
    ///   * a fortieth of the learnt first poll (100 ms to 1 s), when the account's budget has room;
    ///   * when it is `saturated` (new work waits for it, so every read delays a Create by one call):
    ///     at the late side of the bracket when that lies ahead, an eighth of the first poll at most;
    ///     else an eighth of the first poll. A read a little early then costs one more read, not
    ///     several a fortieth apart; the wait is a little longer, but a burst is done sooner;
    /// * otherwise (nothing learnt yet, or slow) `None`, the usual poll interval.
    pub fn follow_up(&self, region: &str, kind: &str, after: Duration, saturated: bool) -> Option<Duration> {
        let p = self.paces.get(&(region.to_string(), kind.to_string()))?;
        if after >= p.first_poll * 2 {
            return None;
        }
        let part = |divisor: f64| p.first_poll.div_f64(divisor).clamp(MIN_FOLLOW_UP, FIRST_POLL);
        let step = part(FOLLOW_UP_DIVISOR);
        let target = match p.bracket {
            Bracket { below: Some(b), above: Some(a) } if b.at < a.at => {
                ((b.at + a.at) / 2).min(p.first_poll)
            }
            _ => p.first_poll,
        };
        if after < target || !saturated {
            return Some(target.saturating_sub(after).max(step));
        }
        let coarse = part(SATURATED_FOLLOW_UP_DIVISOR);
        Some(match p.bracket.above {
            Some(a) if a.at > after => (a.at - after).clamp(MIN_FOLLOW_UP, coarse),
            _ => coarse,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl CreatingTimes {
        /// When a service created now would be polled first.
        fn first_poll(&self, region: &str, kind: &str) -> Duration {
            self.learnt(region, kind).unwrap_or(FIRST_POLL)
        }
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn read(first: bool, active: bool, after: f64) -> Read {
        Read { first, active, after: secs(after), planned: first.then(|| secs(after)), creating_before: None }
    }

    /// A first read planned `planned` after its Create that ran at `ran` (it queued) and found Active.
    fn queued(planned: f64, ran: f64) -> Read {
        Read { planned: Some(secs(planned)), ..read(true, true, ran) }
    }

    #[test]
    fn first_poll_table() {
        // Creating at 4 s, then Active at 5 s: the first Active seen, with a bracket [4, 5].
        let seeded = (5.0, Read { creating_before: Some(secs(4.0)), ..read(false, true, 5.0) });
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
            (
                "too early, then late: halfway back between the two",
                vec![
                    (5.0, read(false, true, 5.0)),
                    (9.5, read(true, false, 4.0)),
                    (15.0, read(true, true, 5.2)),
                ],
                ("r", "nlb"),
                4.6,
            ),
            (
                "and early again: halfway up to the late one",
                vec![
                    (5.0, read(false, true, 5.0)),
                    (9.5, read(true, false, 4.0)),
                    (15.0, read(true, true, 5.2)),
                    (20.0, read(true, false, 4.6)),
                ],
                ("r", "nlb"),
                4.9,
            ),
            (
                "Creating at 4 s, Active at 5 s: the first poll starts in the middle, the bracket kept",
                vec![seeded],
                ("r", "nlb"),
                4.5,
            ),
            (
                "and a late epoch there halves the bracket's early half",
                vec![seeded, (10.0, read(true, true, 4.5))],
                ("r", "nlb"),
                4.25,
            ),
            (
                "an early epoch there halves its late half",
                vec![seeded, (10.0, read(true, false, 4.5))],
                ("r", "nlb"),
                4.75,
            ),
            ("another region learns on its own", vec![(5.0, read(false, true, 5.0))], ("q", "nlb"), 1.0),
            ("another type learns on its own", vec![(5.0, read(false, true, 5.0))], ("r", "slb"), 1.0),
            ("never before the fixed first poll", vec![(0.3, read(false, true, 0.3))], ("r", "nlb"), 1.0),
            ("never later than the cap", vec![(600.0, read(false, true, 600.0))], ("r", "nlb"), 60.0),
            (
                "reads planned at 4 s that ran at 5.5 s (queued) and found Active: no step down from 4 s",
                vec![(5.0, read(false, true, 5.0)), (6.0, queued(4.0, 5.5)), (9.5, queued(4.0, 5.5))],
                ("r", "nlb"),
                4.0,
            ),
            (
                "reads planned at 4 s that ran at 6 s and found Creating: a step up from 6 s",
                vec![
                    (5.0, read(false, true, 5.0)),
                    (6.0, Read { active: false, ..queued(4.0, 6.0) }),
                    (9.5, Read { active: false, ..queued(4.0, 6.0) }),
                ],
                ("r", "nlb"),
                7.8,
            ),
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
    fn follow_up_table() {
        let t0 = Instant::now();
        let mut t = CreatingTimes::default();
        assert_eq!(t.follow_up("r", "nlb", secs(1.0), true), None, "nothing learnt: the usual poll interval");
        t.observe("r", "nlb", read(false, true, 12.5), t0);
        let mut slow = CreatingTimes::default();
        slow.observe("r", "nlb", read(false, true, 50.0), t0);
        let mut fast = CreatingTimes::default();
        fast.observe("r", "nlb", read(false, true, 1.0), t0);
        let mut bracketed = CreatingTimes::default();
        bracketed.observe(
            "r",
            "nlb",
            Read { creating_before: Some(secs(4.0)), ..read(false, true, 5.0) },
            t0,
        );
        // (case, learnt, seconds since the Create, budget saturated, follow-up in s)
        let cases = [
            ("a fortieth of the first poll (10 s)", &t, 10.1, false, Some(0.25)),
            ("still that just under twice the first poll", &t, 19.9, false, Some(0.25)),
            ("unusually slow: the usual poll interval", &t, 20.0, false, None),
            ("never more than the usual second", &slow, 41.0, false, Some(1.0)),
            ("never under 100 ms", &fast, 1.1, false, Some(0.1)),
            (
                "read before the first poll (created before it was learnt): at the first poll",
                &t,
                3.0,
                false,
                Some(7.0),
            ),
            ("just before the first poll: at least the follow-up step", &t, 9.9, false, Some(0.25)),
            ("read before an open bracket [4, 5]: at its middle", &bracketed, 2.0, false, Some(2.5)),
            ("read past the middle of the bracket: the follow-up step", &bracketed, 4.6, false, Some(0.1125)),
            ("saturated, read before the first poll: still at the first poll", &t, 3.0, true, Some(7.0)),
            ("saturated, no bracket: an eighth of the first poll", &t, 10.1, true, Some(1.0)),
            ("saturated: the late side of the bracket when it lies ahead", &bracketed, 4.6, true, Some(0.4)),
            (
                "saturated, past the late side: an eighth of the first poll",
                &bracketed,
                5.1,
                true,
                Some(0.5625),
            ),
            ("saturated, just before the late side: no less than 100 ms", &bracketed, 4.98, true, Some(0.1)),
            ("saturated and unusually slow: the usual poll interval", &t, 20.0, true, None),
        ];
        for (case, learnt, after, saturated, want) in cases {
            let got = learnt.follow_up("r", "nlb", secs(after), saturated).map(|d| d.as_secs_f64());
            match (got, want) {
                (Some(g), Some(w)) => assert!((g - w).abs() < 1e-9, "{case}: {g} != {w}"),
                _ => assert_eq!(got, want, "{case}"),
            }
        }
    }

    /// A Creating time that barely varies (the simulator's): the estimate settles within the bound
    /// margin of it instead of swinging ±15 % around it and drifting up.
    #[test]
    fn settles_on_a_fixed_creating_time() {
        let t0 = Instant::now();
        for (seed_after, creating) in [(3.1, 3.0), (12.0, 3.0), (1.2, 5.0), (5.0, 20.0)] {
            let mut t = CreatingTimes::default();
            t.observe("r", "nlb", read(false, true, seed_after), t0);
            let mut now = 0.0;
            let mut late = Vec::new();
            for round in 0..40 {
                let at = t.first_poll("r", "nlb").as_secs_f64();
                now += at;
                for i in 0..200 {
                    let actual = at + 0.03 * (i % 5) as f64;
                    t.observe("r", "nlb", read(true, actual >= creating, actual), t0 + secs(now));
                }
                if round >= 20 {
                    late.push(at - creating);
                }
            }
            let mean = late.iter().sum::<f64>() / late.len() as f64;
            assert!(
                mean.abs() < creating * 0.1,
                "{seed_after}/{creating}: first poll off by {mean:.3} s on average once settled"
            );
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
    /// reads at once move it once, not a thousand times.
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
                    let ran = at + queue;
                    let r = Read { planned: Some(secs(at)), ..read(true, ran >= took, ran) };
                    t.observe("r", "nlb", r, t0 + secs(now));
                }
                let after = t.first_poll("r", "nlb");
                let ratio = after.as_secs_f64() / before.as_secs_f64();
                // One move per epoch: a step (×0.85 to ×1.3), or halfway across the bracket.
                assert!((0.5..=1.31).contains(&ratio), "round {round}: one move per epoch, got x{ratio}");
            }
            let settled = t.first_poll("r", "nlb").as_secs_f64();
            if queue == 0.0 {
                assert!(
                    settled > creating * 0.8 && settled < creating * 1.35,
                    "{seed_after}/{creating}: {settled}"
                );
            } else {
                // Reads delayed past the Creating time find Active: the estimate never goes up, and it
                // does not drift down either (they ran late: nothing was learnt about an earlier time).
                assert_eq!(settled, seed_after * SEED, "{seed_after}/{creating}/{queue}");
            }
        }
    }

    /// A fixed Creating time, read on time: once settled, an expired early bound is probed halfway back
    /// to it, never a plain step far below (each read that early costs several follow-ups); and a
    /// Creating time that got shorter is still found.
    #[test]
    fn an_expired_bound_is_probed_not_stepped_past() {
        let t0 = Instant::now();
        let mut t = CreatingTimes::default();
        t.observe("r", "nlb", read(false, true, 6.0), t0);
        let mut now = 0.0;
        let mut epoch = |t: &mut CreatingTimes, creating: f64| {
            let at = t.first_poll("r", "nlb").as_secs_f64();
            now += at;
            for _ in 0..100 {
                t.observe("r", "nlb", read(true, at >= creating, at), t0 + secs(now));
            }
            t.first_poll("r", "nlb").as_secs_f64()
        };
        let settled: Vec<f64> = (0..100).map(|_| epoch(&mut t, 5.0)).skip(20).collect();
        let low = settled.iter().copied().fold(f64::MAX, f64::min);
        assert!(low >= 5.0 * 0.97, "settled on 5 s, then probed as low as {low:.3} s");
        assert!(settled.iter().all(|fp| *fp < 5.0 * 1.1), "{settled:?}");
        let shorter: Vec<f64> = (0..60).map(|_| epoch(&mut t, 3.0)).collect();
        let last = shorter[shorter.len() - 1];
        assert!((3.0..3.0 * 1.1).contains(&last), "the Creating time fell to 3 s: {last:.3} s");
    }
}
