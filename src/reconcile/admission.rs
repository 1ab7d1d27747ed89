//! Who may spend an account's API budget next: new work waits its turn, namespaces take turns.
//!
//! Alibaba Cloud limits API calls per account, and the operator's `--qps` budget is spent per account
//! (see [`crate::alicloud::AliCloudClient::backlog`]). Without admission, a burst of a thousand new
//! objects in one namespace fills the account's queue: every reconcile waits for its token inside one of
//! the controller's few slots, so a single object applied in another namespace a moment later waits for
//! the whole burst, and due polls of services already created wait behind new Creates.
//!
//! Admission decides before a pass spends anything:
//!
//! * a **poll** (the object already has a service, or a Create may have been sent) goes ahead while the
//!   account's queue is shorter than [`POLL_SLACK`]; otherwise it is deferred by the excess. Work in
//!   flight finishes before new work starts;
//! * a **start** (a pass that will Create) goes ahead only while nothing is parked for the account and
//!   the queue is shorter than [`START_SLACK`]; otherwise the object is **parked** in its namespace's
//!   lane and the reconcile returns at once, freeing its controller slot;
//! * [`Admission::dispatch`] hands out turns whenever the queue (plus turns handed out but not yet used)
//!   drops below [`START_SLACK`]: the lane that has been served least goes next (start-time fair
//!   queueing, a lane joining late starts level with the others, so an idle namespace banks no credit),
//!   first come first served within a lane. The caller wakes the object; its next pass is admitted.
//!
//! A turn not used within [`TURN_TTL`] (the object was deleted, or is waiting out a backoff) lapses. With
//! a budget that is never saturated (a large `--qps`) nothing is ever parked. Pure: the caller passes the
//! clock and each account's queue length.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    hash::Hash,
    time::{Duration, Instant},
};

/// A new Create is started only while the account's queue is shorter than this.
pub const START_SLACK: Duration = Duration::from_millis(1000);
/// A poll of work in flight goes ahead while the account's queue is shorter than this.
pub const POLL_SLACK: Duration = Duration::from_secs(3);
/// A turn handed out but not used within this lapses.
pub const TURN_TTL: Duration = Duration::from_secs(10);
/// How long a start that went ahead counts as queued before its calls show in the account's queue (the
/// reconcile writes the ClientToken to the status before the Create).
pub const START_LEAD: Duration = Duration::from_millis(500);

/// What a pass is about to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Start new work (a Create): waits its turn when the budget is saturated.
    Start,
    /// Follow up on work in flight or done (poll, drift check, update).
    Poll,
}

/// The decision for one pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead now.
    Go,
    /// Parked in the namespace's lane; [`Admission::dispatch`] wakes the object in turn.
    Park,
    /// Look again after this long (a poll while the queue is long).
    Later(Duration),
}

#[derive(Debug)]
struct Lane<T> {
    waiting: VecDeque<T>,
    /// Turns served (virtual time of the lane).
    served: u64,
}

impl<T> Default for Lane<T> {
    fn default() -> Self {
        Self { waiting: VecDeque::new(), served: 0 }
    }
}

#[derive(Debug)]
struct Account<T> {
    /// Namespace → lane (ordered, so ties are broken the same way every time).
    lanes: BTreeMap<String, Lane<T>>,
    /// Turns handed out and not yet used, with their expiry.
    turns: HashMap<T, Instant>,
    /// When recent starts went ahead: not yet in the account's queue, but about to be.
    started: VecDeque<Instant>,
}

impl<T> Default for Account<T> {
    fn default() -> Self {
        Self { lanes: BTreeMap::new(), turns: HashMap::new(), started: VecDeque::new() }
    }
}

impl<T> Account<T> {
    /// Calls promised but not yet queued: turns handed out, and starts of the last [`START_LEAD`].
    fn promised(&mut self, now: Instant) -> u32 {
        while self.started.front().is_some_and(|t| now.saturating_duration_since(*t) > START_LEAD) {
            self.started.pop_front();
        }
        (self.turns.len() + self.started.len()) as u32
    }

    fn parked(&self) -> usize {
        self.lanes.values().map(|l| l.waiting.len()).sum()
    }

    /// The least-served virtual time among lanes with parked work.
    fn floor(&self) -> Option<u64> {
        self.lanes.values().filter(|l| !l.waiting.is_empty()).map(|l| l.served).min()
    }
}

/// Admission state of every account (see the module docs).
#[derive(Debug)]
pub struct Admission<T> {
    /// One call's share of an account's budget (1 / `--qps`).
    interval: Duration,
    accounts: HashMap<String, Account<T>>,
}

impl<T: Clone + Eq + Hash> Admission<T> {
    /// Admission for a budget of `qps` calls per second per account.
    pub fn new(qps: u32) -> Self {
        Self { interval: Duration::from_secs(1) / qps.max(1), accounts: HashMap::new() }
    }

    /// Decide for a pass of `who` (in namespace `ns`) on `account`, whose queue is `backlog` long now.
    pub fn admit(
        &mut self,
        account: &str,
        ns: &str,
        who: &T,
        class: Class,
        backlog: Duration,
        now: Instant,
    ) -> Decision {
        if class == Class::Poll {
            return if backlog <= POLL_SLACK { Decision::Go } else { Decision::Later(backlog - POLL_SLACK) };
        }
        let interval = self.interval;
        let acc = self.accounts.entry(account.to_string()).or_default();
        if let Some(expiry) = acc.turns.remove(who)
            && expiry > now
        {
            acc.started.push_back(now);
            return Decision::Go;
        }
        if acc.lanes.get(ns).is_some_and(|l| l.waiting.contains(who)) {
            return Decision::Park;
        }
        let pending = interval * acc.promised(now);
        let floor = acc.floor();
        if floor.is_none() && backlog + pending + interval <= START_SLACK {
            acc.started.push_back(now);
            let lane = acc.lanes.entry(ns.to_string()).or_default();
            lane.served += 1;
            return Decision::Go;
        }
        let lane = acc.lanes.entry(ns.to_string()).or_default();
        if lane.waiting.is_empty() {
            // Joining: level with the lanes already waiting, never ahead on banked idle time.
            lane.served = lane.served.max(floor.unwrap_or(0));
        }
        lane.waiting.push_back(who.clone());
        Decision::Park
    }

    /// Hand out turns while each account's queue has room; returns the objects to wake and when to look
    /// again (None: nothing is parked).
    pub fn dispatch(
        &mut self,
        backlog: impl Fn(&str) -> Duration,
        now: Instant,
    ) -> (Vec<T>, Option<Duration>) {
        let interval = self.interval;
        let mut woken = vec![];
        let mut next: Option<Duration> = None;
        for (account, acc) in &mut self.accounts {
            acc.turns.retain(|_, expiry| *expiry > now);
            if acc.parked() == 0 {
                continue;
            }
            let mut queued = backlog(account) + interval * acc.promised(now);
            while queued + interval <= START_SLACK {
                let Some(lane) =
                    acc.lanes.values_mut().filter(|l| !l.waiting.is_empty()).min_by_key(|l| l.served)
                else {
                    break;
                };
                let who = lane.waiting.pop_front().expect("lane has parked work");
                lane.served += 1;
                acc.turns.insert(who.clone(), now + TURN_TTL);
                woken.push(who);
                queued += interval;
            }
            if acc.parked() > 0 {
                let wait = (queued.saturating_sub(START_SLACK)).max(interval).max(Duration::from_millis(10));
                next = Some(next.map_or(wait, |n| n.min(wait)));
            } else if !acc.turns.is_empty() {
                next = Some(next.map_or(TURN_TTL, |n| n.min(TURN_TTL)));
            }
        }
        // Virtual times only matter between lanes that wait: an account with nothing parked starts over.
        self.accounts.retain(|_, a| a.parked() > 0 || !a.turns.is_empty() || !a.started.is_empty());
        (woken, next)
    }

    /// Whether `who` holds a turn (its wake-up must not be swallowed).
    pub fn has_turn(&self, who: &T) -> bool {
        self.accounts.values().any(|a| a.turns.contains_key(who))
    }

    /// Objects parked for an account, in all its lanes.
    pub fn parked(&self, account: &str) -> usize {
        self.accounts.get(account).map_or(0, Account::parked)
    }

    /// Drop an object (it left the cluster).
    pub fn forget(&mut self, who: &T) {
        for acc in self.accounts.values_mut() {
            acc.turns.remove(who);
            for lane in acc.lanes.values_mut() {
                lane.waiting.retain(|w| w != who);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "acct-a";
    const B: &str = "acct-b";
    const MS: Duration = Duration::from_millis(1);

    /// Budget of 20 calls/s (the shipped `--qps`): one call = 50 ms.
    fn adm() -> Admission<String> {
        Admission::new(20)
    }

    #[test]
    fn admit_table() {
        // (name, backlog, parked before in ns-a, class, expected)
        let cases: &[(&str, Duration, usize, Class, Decision)] = &[
            ("idle budget: a start goes", Duration::ZERO, 0, Class::Start, Decision::Go),
            ("room for one more call: a start goes", START_SLACK - 50 * MS, 0, Class::Start, Decision::Go),
            (
                "no room for one more call: a start parks",
                START_SLACK - 49 * MS,
                0,
                Class::Start,
                Decision::Park,
            ),
            ("others parked: a start parks even with room", Duration::ZERO, 1, Class::Start, Decision::Park),
            ("a poll goes past parked starts", Duration::ZERO, 5, Class::Poll, Decision::Go),
            ("a poll goes on a queue too long for starts", POLL_SLACK, 5, Class::Poll, Decision::Go),
            (
                "a poll on a very long queue waits the excess",
                POLL_SLACK + 250 * MS,
                0,
                Class::Poll,
                Decision::Later(250 * MS),
            ),
        ];
        let now = Instant::now();
        for (name, backlog, parked, class, want) in cases {
            let mut a = adm();
            for i in 0..*parked {
                assert_eq!(
                    a.admit(A, "ns-a", &format!("old-{i}"), Class::Start, START_SLACK * 2, now),
                    Decision::Park
                );
            }
            let got = a.admit(A, "ns-a", &"obj".to_string(), *class, *backlog, now);
            assert_eq!(got, *want, "{name}");
        }
    }

    /// The controller's slots ask at the same moment, before any of their calls is queued: only as many
    /// starts go as the slack holds, the rest park.
    #[test]
    fn simultaneous_starts_do_not_overrun_the_slack() {
        let mut a = adm();
        let now = Instant::now();
        let go = (0..40)
            .filter(|i| a.admit(A, "ns", &format!("o{i}"), Class::Start, Duration::ZERO, now) == Decision::Go)
            .count();
        assert_eq!(go, 20, "1 s of slack at 50 ms per call");
        // A later start queues behind those parked, whatever the queue.
        let later = now + START_LEAD + MS;
        assert_eq!(
            a.admit(A, "ns", &"late".to_string(), Class::Start, Duration::ZERO, later),
            Decision::Park
        );
    }

    #[test]
    fn a_parked_object_keeps_its_place() {
        let mut a = adm();
        let now = Instant::now();
        let long = START_SLACK * 2;
        for who in ["x", "y"] {
            assert_eq!(a.admit(A, "ns", &who.to_string(), Class::Start, long, now), Decision::Park);
        }
        // x reconciles again (a fallback requeue) before its turn: still parked, not queued twice.
        assert_eq!(a.admit(A, "ns", &"x".to_string(), Class::Start, long, now), Decision::Park);
        assert_eq!(a.parked(A), 2);
        let (woken, _) = a.dispatch(|_| Duration::ZERO, now);
        assert_eq!(woken, ["x", "y"], "first come, first served");
        // With its turn, x goes, even though the queue is long again.
        assert_eq!(a.admit(A, "ns", &"x".to_string(), Class::Start, long, now), Decision::Go);
    }

    #[test]
    fn turns_fill_the_queue_up_to_the_slack_and_no_further() {
        let mut a = adm();
        let now = Instant::now();
        for i in 0..100 {
            a.admit(A, "ns", &format!("o{i}"), Class::Start, START_SLACK * 2, now);
        }
        // Queue 600 ms: room for 400 ms = 8 calls of 50 ms (the 9th would pass the slack).
        let (woken, next) = a.dispatch(|_| 600 * MS, now);
        assert_eq!(woken.len(), 8, "600 ms + 8 × 50 ms = 1000 ms, the slack");
        assert!(next.is_some());
        // Those turns are still outstanding: nothing more until the queue drains.
        let (woken, _) = a.dispatch(|_| 600 * MS, now);
        assert!(woken.is_empty(), "outstanding turns count as queued");
        // They lapse unused after TURN_TTL, and new ones are handed out.
        let (woken, _) = a.dispatch(|_| 600 * MS, now + TURN_TTL + MS);
        assert_eq!(woken.len(), 8);
    }

    /// Issue 16 B: namespace A has a burst of 1,000 parked; one object of namespace B arrives. B's object
    /// gets the very next turn, not the 1,001st.
    #[test]
    fn a_late_namespace_is_served_next_not_last() {
        let mut a = adm();
        let now = Instant::now();
        let long = START_SLACK * 2;
        for i in 0..1000 {
            a.admit(A, "ns-a", &format!("a{i}"), Class::Start, long, now);
        }
        // Some of A's work is served first.
        let mut served_a = 0;
        let mut t = now;
        for _ in 0..10 {
            t += Duration::from_secs(1);
            let (woken, _) = a.dispatch(|_| START_SLACK - 50 * MS, t);
            served_a += woken.len();
            for w in woken {
                assert_eq!(a.admit(A, "ns-a", &w, Class::Start, long, t), Decision::Go);
            }
        }
        assert_eq!(served_a, 10);
        t += Duration::from_secs(1);
        assert_eq!(a.admit(A, "ns-b", &"b0".to_string(), Class::Start, long, t), Decision::Park);
        let (woken, _) = a.dispatch(|_| START_SLACK - 100 * MS, t);
        assert!(woken.iter().take(2).any(|w| w == "b0"), "B within the next two turns: {woken:?}");
    }

    /// Two namespaces with bursts share the budget turn for turn, whichever came first.
    #[test]
    fn busy_namespaces_alternate() {
        let mut a = adm();
        let now = Instant::now();
        let long = START_SLACK * 2;
        for i in 0..50 {
            a.admit(A, "ns-a", &format!("a{i}"), Class::Start, long, now);
        }
        for i in 0..50 {
            a.admit(A, "ns-b", &format!("b{i}"), Class::Start, long, now);
        }
        let mut order = vec![];
        let mut t = now;
        for _ in 0..20 {
            t += Duration::from_secs(1);
            let (woken, _) = a.dispatch(|_| START_SLACK - 50 * MS, t);
            for w in woken {
                assert_eq!(a.admit(A, "x", &w, Class::Start, long, t), Decision::Go);
                order.push(w);
            }
        }
        let from_a = order.iter().filter(|w| w.starts_with('a')).count();
        assert_eq!(order.len(), 20);
        assert_eq!(from_a, 10, "half the turns each: {order:?}");
    }

    /// A namespace that was idle does not bank credit: after A has been served 100 turns alone, B joins
    /// level with A and they alternate (B does not get 100 turns in a row).
    #[test]
    fn idle_time_is_not_banked() {
        let mut a = adm();
        let now = Instant::now();
        let long = START_SLACK * 2;
        for i in 0..200 {
            a.admit(A, "ns-a", &format!("a{i}"), Class::Start, long, now);
        }
        let mut t = now;
        for _ in 0..100 {
            t += Duration::from_secs(1);
            let (woken, _) = a.dispatch(|_| START_SLACK - 50 * MS, t);
            for w in woken {
                a.admit(A, "ns-a", &w, Class::Start, long, t);
            }
        }
        for i in 0..50 {
            a.admit(A, "ns-b", &format!("b{i}"), Class::Start, long, t);
        }
        let mut order = vec![];
        for _ in 0..10 {
            t += Duration::from_secs(1);
            let (woken, _) = a.dispatch(|_| START_SLACK - 50 * MS, t);
            for w in woken {
                a.admit(A, "x", &w, Class::Start, long, t);
                order.push(w);
            }
        }
        let from_b = order.iter().filter(|w| w.starts_with('b')).count();
        assert!((4..=6).contains(&from_b), "turns alternate after B joins: {order:?}");
    }

    /// Another account's budget is its own: A's parked burst does not hold up B's account at all.
    #[test]
    fn accounts_are_independent() {
        let mut a = adm();
        let now = Instant::now();
        for i in 0..100 {
            a.admit(A, "ns-a", &format!("a{i}"), Class::Start, START_SLACK * 2, now);
        }
        assert_eq!(a.admit(B, "ns-a", &"other".to_string(), Class::Start, Duration::ZERO, now), Decision::Go);
        let (woken, _) = a.dispatch(|acct| if acct == A { START_SLACK * 2 } else { Duration::ZERO }, now);
        assert!(woken.is_empty(), "A's queue is full: no turns for A");
    }

    #[test]
    fn a_deleted_object_leaves_its_lane() {
        let mut a = adm();
        let now = Instant::now();
        for who in ["x", "y"] {
            a.admit(A, "ns", &who.to_string(), Class::Start, START_SLACK * 2, now);
        }
        a.forget(&"x".to_string());
        let (woken, next) = a.dispatch(|_| Duration::ZERO, now);
        assert_eq!(woken, ["y"]);
        assert!(a.has_turn(&"y".to_string()));
        assert_eq!(next, Some(TURN_TTL), "only a turn outstanding: look again when it would lapse");
        a.forget(&"y".to_string());
        assert!(!a.has_turn(&"y".to_string()));
    }
}
