//! Who may spend an account's API budget next: nobody waits for a token inside a controller slot, work
//! in flight goes first, namespaces take turns.
//!
//! Alibaba Cloud limits API calls per account, and the operator's `--qps` budget is spent per account
//! (see [`crate::alicloud::AliCloudClient::backlog`]). Without admission, a burst of a thousand new
//! objects in one namespace fills the account's queue and every reconcile waits for its token inside one
//! of the controller's few slots: the controller then runs only as many reconciles per second as the
//! budget has calls, so a single object applied in another namespace a moment later waits for the whole
//! burst (measured: 50 to 90 s behind 1,000 objects at the shipped `--qps 20`), and even an object of
//! another account, whose budget is idle, waits for a slot.
//!
//! Admission decides before a pass spends anything. A pass goes ahead while the account's queue, plus
//! what was promised and is not queued yet, leaves room for it within [`SLACK`]; otherwise the object is
//! **parked** and the reconcile returns at once, freeing its slot:
//!
//! * a **poll** (the object already has a service, or a Create may have been sent: reads, drift checks,
//!   updates) parks in the account's poll queue, first come first served;
//! * a **start** (a pass that will Create) parks in its namespace's lane, and also whenever anything else
//!   is parked for the account (no overtaking);
//! * [`Admission::dispatch`] hands out turns whenever the queue has room: parked polls first, so work in
//!   flight finishes before new work starts; then the lane that has been served least (start-time fair
//!   queueing: a lane joining late starts level with the others, so an idle namespace banks no credit),
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

/// A pass goes ahead only while the account's queue (with what was promised) leaves it room within this:
/// the longest a reconcile waits for a token inside a controller slot. Short, because every slot held
/// waiting is a slot others queue for: kube-runtime takes due reconciles in no particular order once
/// all slots are busy, so an object can wait there far longer than its turn (measured with 1 s: 20
/// reconciles per second, and new objects waiting 40 to 100 s for their first reconcile).
pub const SLACK: Duration = Duration::from_millis(250);
/// A turn handed out but not used within this lapses.
pub const TURN_TTL: Duration = Duration::from_secs(10);
/// How long a pass that went ahead counts as promised before its calls show in the account's queue (a
/// start writes the ClientToken to the status before the Create).
pub const LEAD: Duration = Duration::from_millis(100);

/// What a pass is about to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Start new work (a Create).
    Start,
    /// Follow up on work in flight or done (poll, drift check, update).
    Poll,
}

/// The decision for one pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead now.
    Go,
    /// Parked; [`Admission::dispatch`] wakes the object in turn.
    Park,
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
    /// Parked polls, first come first served, ahead of every start.
    polls: VecDeque<T>,
    /// Namespace → lane of parked starts (ordered, so ties are broken the same way every time).
    lanes: BTreeMap<String, Lane<T>>,
    /// Turns handed out and not yet used, with their expiry.
    turns: HashMap<T, Instant>,
    /// When recent passes went ahead: not yet in the account's queue, but about to be.
    went: VecDeque<Instant>,
}

impl<T> Default for Account<T> {
    fn default() -> Self {
        Self { polls: VecDeque::new(), lanes: BTreeMap::new(), turns: HashMap::new(), went: VecDeque::new() }
    }
}

impl<T: Eq> Account<T> {
    fn parked(&self) -> usize {
        self.polls.len() + self.lanes.values().map(|l| l.waiting.len()).sum::<usize>()
    }

    fn is_parked(&self, who: &T) -> bool {
        self.polls.contains(who) || self.lanes.values().any(|l| l.waiting.contains(who))
    }

    /// The least-served virtual time among lanes with parked work.
    fn floor(&self) -> Option<u64> {
        self.lanes.values().filter(|l| !l.waiting.is_empty()).map(|l| l.served).min()
    }

    /// Calls promised but not yet queued: turns handed out, and passes gone ahead within [`LEAD`].
    fn promised(&mut self, now: Instant) -> u32 {
        while self.went.front().is_some_and(|t| now.saturating_duration_since(*t) > LEAD) {
            self.went.pop_front();
        }
        (self.turns.len() + self.went.len()) as u32
    }

    /// The next parked object: polls first, then the least-served lane.
    fn next(&mut self) -> Option<T> {
        if let Some(who) = self.polls.pop_front() {
            return Some(who);
        }
        let lane = self.lanes.values_mut().filter(|l| !l.waiting.is_empty()).min_by_key(|l| l.served)?;
        lane.served += 1;
        lane.waiting.pop_front()
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
        let interval = self.interval;
        let acc = self.accounts.entry(account.to_string()).or_default();
        if let Some(expiry) = acc.turns.remove(who)
            && expiry > now
        {
            acc.went.push_back(now);
            return Decision::Go;
        }
        if acc.is_parked(who) {
            return Decision::Park;
        }
        // At least one call may wait (a budget below 4 calls per second has calls longer than the slack).
        let room = backlog + interval * acc.promised(now) + interval <= SLACK.max(interval);
        let ahead = match class {
            Class::Poll => !acc.polls.is_empty(),
            Class::Start => acc.parked() > 0,
        };
        if room && !ahead {
            acc.went.push_back(now);
            if class == Class::Start {
                acc.lanes.entry(ns.to_string()).or_default().served += 1;
            }
            return Decision::Go;
        }
        match class {
            Class::Poll => acc.polls.push_back(who.clone()),
            Class::Start => {
                let floor = acc.floor();
                let lane = acc.lanes.entry(ns.to_string()).or_default();
                if lane.waiting.is_empty() {
                    // Joining: level with the lanes already waiting, never ahead on banked idle time.
                    lane.served = lane.served.max(floor.unwrap_or(0));
                }
                lane.waiting.push_back(who.clone());
            }
        }
        Decision::Park
    }

    /// Hand out turns while each account's queue has room; returns the objects to wake and when to look
    /// again (None: nothing is parked or promised).
    pub fn dispatch(
        &mut self,
        backlog: impl Fn(&str) -> Duration,
        now: Instant,
    ) -> (Vec<T>, Option<Duration>) {
        let interval = self.interval;
        let mut woken = vec![];
        let mut next: Option<Duration> = None;
        let mut soonest = |wait: Duration| next = Some(next.map_or(wait, |n: Duration| n.min(wait)));
        for (account, acc) in &mut self.accounts {
            acc.turns.retain(|_, expiry| *expiry > now);
            if acc.parked() == 0 {
                if !acc.turns.is_empty() {
                    soonest(TURN_TTL);
                }
                continue;
            }
            let mut queued = backlog(account) + interval * acc.promised(now);
            while queued + interval <= SLACK.max(interval) {
                let Some(who) = acc.next() else { break };
                acc.turns.insert(who.clone(), now + TURN_TTL);
                woken.push(who);
                queued += interval;
            }
            if acc.parked() > 0 {
                let over = (queued + interval).saturating_sub(SLACK.max(interval));
                soonest(over.max(interval.min(SLACK)).max(Duration::from_millis(10)));
            } else {
                soonest(TURN_TTL);
            }
        }
        // Virtual times only matter between lanes that wait: an account with nothing parked starts over.
        self.accounts.retain(|_, a| a.parked() > 0 || !a.turns.is_empty() || !a.went.is_empty());
        (woken, next)
    }

    /// Whether `who` holds a turn (its wake-up must not be swallowed).
    pub fn has_turn(&self, who: &T) -> bool {
        self.accounts.values().any(|a| a.turns.contains_key(who))
    }

    /// Objects parked over all accounts: (polls of services being created or updated, passes that
    /// would start a Create).
    pub fn parked_total(&self) -> (usize, usize) {
        self.accounts.values().fold((0, 0), |(polls, starts), a| {
            (polls + a.polls.len(), starts + a.lanes.values().map(|l| l.waiting.len()).sum::<usize>())
        })
    }

    /// Objects parked for an account.
    pub fn parked(&self, account: &str) -> usize {
        self.accounts.get(account).map_or(0, Account::parked)
    }

    /// Drop an object (it left the cluster).
    pub fn forget(&mut self, who: &T) {
        for acc in self.accounts.values_mut() {
            acc.turns.remove(who);
            acc.polls.retain(|w| w != who);
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

    /// `rounds` seconds of one turn each (the queue leaves room for one call), every turn used at once;
    /// the objects served, in order. `t` moves on a second per round.
    fn serve(a: &mut Admission<String>, t: &mut Instant, rounds: usize) -> Vec<String> {
        let mut order = vec![];
        for _ in 0..rounds {
            *t += Duration::from_secs(1);
            let (woken, _) = a.dispatch(|_| SLACK - 50 * MS, *t);
            for w in woken {
                assert_eq!(
                    a.admit(A, "any", &w, Class::Start, SLACK * 2, *t),
                    Decision::Go,
                    "{w} holds a turn"
                );
                order.push(w);
            }
        }
        order
    }

    #[test]
    fn admit_table() {
        // (name, backlog, parked before in ns-a, class, expected)
        let cases: &[(&str, Duration, usize, Class, Decision)] = &[
            ("idle budget: a start goes", Duration::ZERO, 0, Class::Start, Decision::Go),
            ("room for one more call: a start goes", SLACK - 50 * MS, 0, Class::Start, Decision::Go),
            ("no room for one more call: a start parks", SLACK - 49 * MS, 0, Class::Start, Decision::Park),
            ("others parked: a start parks even with room", Duration::ZERO, 1, Class::Start, Decision::Park),
            ("a poll goes past parked starts", Duration::ZERO, 5, Class::Poll, Decision::Go),
            ("a poll on a full queue parks", SLACK, 0, Class::Poll, Decision::Park),
        ];
        let now = Instant::now();
        for (name, backlog, parked, class, want) in cases {
            let mut a = adm();
            for i in 0..*parked {
                assert_eq!(
                    a.admit(A, "ns-a", &format!("old-{i}"), Class::Start, SLACK * 2, now),
                    Decision::Park
                );
            }
            let got = a.admit(A, "ns-a", &"obj".to_string(), *class, *backlog, now);
            assert_eq!(got, *want, "{name}");
        }
    }

    /// Work in flight finishes first: parked polls get turns before parked starts, in the order they
    /// parked, and a new poll does not overtake them.
    #[test]
    fn parked_polls_go_before_parked_starts() {
        let mut a = adm();
        let now = Instant::now();
        let full = SLACK * 2;
        for who in ["s1", "s2"] {
            assert_eq!(a.admit(A, "ns", &who.to_string(), Class::Start, full, now), Decision::Park);
        }
        for who in ["p1", "p2"] {
            assert_eq!(a.admit(A, "ns", &who.to_string(), Class::Poll, full, now), Decision::Park);
        }
        assert_eq!(
            a.admit(A, "ns", &"p3".to_string(), Class::Poll, Duration::ZERO, now),
            Decision::Park,
            "room, but p1 and p2 wait ahead of it"
        );
        assert_eq!(a.parked_total(), (3, 2), "three polls and two starts parked");
        assert_eq!(a.parked(A), 5);
        // Room for three calls: the three polls, in order; the starts wait.
        let (woken, _) = a.dispatch(|_| SLACK - 150 * MS, now);
        assert_eq!(woken, ["p1", "p2", "p3"]);
        assert_eq!(a.parked_total(), (0, 2), "the woken polls hold turns, no longer parked");
        let (woken, _) = a.dispatch(|_| Duration::ZERO, now + LEAD + MS + TURN_TTL);
        assert_eq!(woken, ["s1", "s2"], "then the starts");
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
        assert_eq!(go as u32, SLACK.as_millis() as u32 / 50, "as many calls of 50 ms as the slack holds");
        // A later start queues behind those parked, whatever the queue.
        let later = now + LEAD + MS;
        assert_eq!(
            a.admit(A, "ns", &"late".to_string(), Class::Start, Duration::ZERO, later),
            Decision::Park
        );
    }

    /// A budget of one call per second (calls longer than the slack) still moves: one call at a time.
    #[test]
    fn a_slow_budget_admits_one_call_at_a_time() {
        let mut a: Admission<String> = Admission::new(1);
        let now = Instant::now();
        assert_eq!(a.admit(A, "ns", &"x".to_string(), Class::Start, Duration::ZERO, now), Decision::Go);
        assert_eq!(a.admit(A, "ns", &"y".to_string(), Class::Start, Duration::ZERO, now), Decision::Park);
        let (woken, _) = a.dispatch(|_| Duration::from_secs(1), now + LEAD + MS);
        assert!(woken.is_empty(), "x's call is still queued");
        let (woken, _) = a.dispatch(|_| Duration::ZERO, now + Duration::from_secs(1));
        assert_eq!(woken, ["y"]);
    }

    #[test]
    fn a_parked_object_keeps_its_place() {
        let mut a = adm();
        let now = Instant::now();
        let long = SLACK * 2;
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
            a.admit(A, "ns", &format!("o{i}"), Class::Start, SLACK * 2, now);
        }
        // Room for 4 calls of 50 ms below the slack (a 5th would pass it).
        let queue = SLACK - 200 * MS;
        let (woken, next) = a.dispatch(|_| queue, now);
        assert_eq!(woken.len(), 4, "the queue + 4 × 50 ms = the slack");
        assert!(next.is_some());
        // Those turns are still outstanding: nothing more until the queue drains.
        let (woken, _) = a.dispatch(|_| queue, now);
        assert!(woken.is_empty(), "outstanding turns count as queued");
        // They lapse unused after TURN_TTL, and new ones are handed out.
        let (woken, _) = a.dispatch(|_| queue, now + TURN_TTL + MS);
        assert_eq!(woken.len(), 4);
    }

    /// Issue 16 B: namespace A has a burst of 1,000 parked; one object of namespace B arrives. B's object
    /// gets the very next turn, not the 1,001st.
    #[test]
    fn a_late_namespace_is_served_next_not_last() {
        let mut a = adm();
        let now = Instant::now();
        let long = SLACK * 2;
        for i in 0..1000 {
            a.admit(A, "ns-a", &format!("a{i}"), Class::Start, long, now);
        }
        // Some of A's work is served first.
        let mut t = now;
        assert_eq!(serve(&mut a, &mut t, 10).len(), 10);
        t += Duration::from_secs(1);
        assert_eq!(a.admit(A, "ns-b", &"b0".to_string(), Class::Start, long, t), Decision::Park);
        let (woken, _) = a.dispatch(|_| SLACK - 100 * MS, t);
        assert!(woken.iter().take(2).any(|w| w == "b0"), "B within the next two turns: {woken:?}");
    }

    /// Two namespaces with bursts share the budget turn for turn, whichever came first.
    #[test]
    fn busy_namespaces_alternate() {
        let mut a = adm();
        let now = Instant::now();
        let long = SLACK * 2;
        for i in 0..50 {
            a.admit(A, "ns-a", &format!("a{i}"), Class::Start, long, now);
        }
        for i in 0..50 {
            a.admit(A, "ns-b", &format!("b{i}"), Class::Start, long, now);
        }
        let order = serve(&mut a, &mut now.clone(), 20);
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
        let long = SLACK * 2;
        for i in 0..200 {
            a.admit(A, "ns-a", &format!("a{i}"), Class::Start, long, now);
        }
        let mut t = now;
        serve(&mut a, &mut t, 100);
        for i in 0..50 {
            a.admit(A, "ns-b", &format!("b{i}"), Class::Start, long, t);
        }
        let order = serve(&mut a, &mut t, 10);
        let from_b = order.iter().filter(|w| w.starts_with('b')).count();
        assert!((4..=6).contains(&from_b), "turns alternate after B joins: {order:?}");
    }

    /// Another account's budget is its own: A's parked burst does not hold up B's account at all.
    #[test]
    fn accounts_are_independent() {
        let mut a = adm();
        let now = Instant::now();
        for i in 0..100 {
            a.admit(A, "ns-a", &format!("a{i}"), Class::Start, SLACK * 2, now);
        }
        assert_eq!(a.admit(B, "ns-a", &"other".to_string(), Class::Start, Duration::ZERO, now), Decision::Go);
        let (woken, _) = a.dispatch(|acct| if acct == A { SLACK * 2 } else { Duration::ZERO }, now);
        assert!(woken.is_empty(), "A's queue is full: no turns for A");
    }

    #[test]
    fn a_deleted_object_leaves_its_lane() {
        let mut a = adm();
        let now = Instant::now();
        for who in ["x", "y"] {
            a.admit(A, "ns", &who.to_string(), Class::Start, SLACK * 2, now);
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
