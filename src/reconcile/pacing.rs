//! When to look at a new service first: learnt from the Creating durations observed so far.
//!
//! Alibaba reports no progress while a service is `Creating`, so every poll before it turns `Active` is a
//! wasted call, and under the account's rate limit calls per resource *is* the speed. The first poll after
//! a Create is therefore scheduled near the typical Creating time of the services made so far in the same
//! region with the same resource type: 0.9 × the median of the last [`WINDOW`] durations (from the Create's
//! answer to the first `Active` read), between [`FIRST_POLL`] and [`MAX_FIRST_POLL`]. Until [`MIN_SAMPLES`]
//! services have been seen, the first poll comes after [`FIRST_POLL`]. After the first poll the usual
//! polling applies (every second, then growing). The observed durations are upper bounds (the service
//! turned Active some time before the read that saw it); scheduling at 0.9 × the median keeps the estimate
//! from creeping upward: reads that find the service already Active pull it down. Pure.

use std::{
    collections::{HashMap, VecDeque},
    time::Duration,
};

pub use super::schedule::FIRST_POLL;

/// Durations remembered per region and resource type.
pub const WINDOW: usize = 64;
/// Samples needed before the estimate is used.
pub const MIN_SAMPLES: usize = 3;
/// Latest first poll, whatever the estimate says (a slow period must not leave a service unwatched).
pub const MAX_FIRST_POLL: Duration = Duration::from_secs(60);
/// Fraction of the median at which the first poll comes.
const EARLY: f64 = 0.9;

/// Recent Creating durations per (region, resource type).
#[derive(Debug, Default)]
pub struct CreatingTimes {
    seen: HashMap<(String, String), VecDeque<Duration>>,
}

impl CreatingTimes {
    /// Record that a service of `kind` in `region` was Active `took` after its Create answered.
    pub fn record(&mut self, region: &str, kind: &str, took: Duration) {
        let w = self.seen.entry((region.to_string(), kind.to_string())).or_default();
        if w.len() == WINDOW {
            w.pop_front();
        }
        w.push_back(took);
    }

    /// The median of the remembered durations, once there are enough.
    pub fn median(&self, region: &str, kind: &str) -> Option<Duration> {
        let w = self.seen.get(&(region.to_string(), kind.to_string()))?;
        if w.len() < MIN_SAMPLES {
            return None;
        }
        let mut v: Vec<Duration> = w.iter().copied().collect();
        v.sort();
        Some(v[v.len() / 2])
    }

    /// When to poll a service just created.
    pub fn first_poll(&self, region: &str, kind: &str) -> Duration {
        self.median(region, kind).map_or(FIRST_POLL, |m| m.mul_f64(EARLY).clamp(FIRST_POLL, MAX_FIRST_POLL))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn first_poll_table() {
        // (case, samples of (region, kind, seconds), asked (region, kind), first poll in seconds)
        type Case = (&'static str, Vec<(&'static str, &'static str, f64)>, (&'static str, &'static str), f64);
        let cases: Vec<Case> = vec![
            ("nothing seen yet: the fixed first poll", vec![], ("r", "nlb"), 1.0),
            ("too few samples", vec![("r", "nlb", 5.0), ("r", "nlb", 5.0)], ("r", "nlb"), 1.0),
            (
                "median of three, a little early",
                vec![("r", "nlb", 4.0), ("r", "nlb", 6.0), ("r", "nlb", 5.0)],
                ("r", "nlb"),
                4.5,
            ),
            (
                "an outlier does not move the median",
                vec![("r", "nlb", 5.0), ("r", "nlb", 5.0), ("r", "nlb", 5.0), ("r", "nlb", 300.0)],
                ("r", "nlb"),
                4.5,
            ),
            (
                "another region learns on its own",
                vec![("r", "nlb", 5.0), ("r", "nlb", 5.0), ("r", "nlb", 5.0)],
                ("q", "nlb"),
                1.0,
            ),
            (
                "another type learns on its own",
                vec![("r", "nlb", 5.0), ("r", "nlb", 5.0), ("r", "nlb", 5.0)],
                ("r", "slb"),
                1.0,
            ),
            (
                "never before the fixed first poll",
                vec![("r", "slb", 0.2), ("r", "slb", 0.3), ("r", "slb", 0.2)],
                ("r", "slb"),
                1.0,
            ),
            (
                "never later than the cap",
                vec![("r", "gwlb", 600.0), ("r", "gwlb", 600.0), ("r", "gwlb", 600.0)],
                ("r", "gwlb"),
                60.0,
            ),
        ];
        for (case, samples, (region, kind), want) in cases {
            let mut t = CreatingTimes::default();
            for (r, k, s) in samples {
                t.record(r, k, secs(s));
            }
            assert_eq!(t.first_poll(region, kind), secs(want), "{case}");
        }
    }

    #[test]
    fn the_window_forgets_old_durations() {
        let mut t = CreatingTimes::default();
        for _ in 0..WINDOW {
            t.record("r", "nlb", secs(30.0));
        }
        assert_eq!(t.median("r", "nlb"), Some(secs(30.0)));
        // The cloud got faster: after a window of new samples the old ones are gone.
        for _ in 0..WINDOW {
            t.record("r", "nlb", secs(5.0));
        }
        assert_eq!(t.median("r", "nlb"), Some(secs(5.0)));
        assert_eq!(t.seen[&("r".to_string(), "nlb".to_string())].len(), WINDOW);
    }
}
