//! The controller's `--concurrency` slots, handed out by urgency: a poll that waits for the cloud to
//! finish a service it is creating goes before new work.
//!
//! kube-runtime bounds concurrency itself, but once all its slots are busy it keeps due reconciles in a
//! hash set and takes them in hash order. During a burst of new objects (each holding a slot for its
//! apiserver writes: finalizer, ClientToken, service ID) a due poll of a service that is already
//! `Active` then waits for a random share of the burst (measured at `--qps 1000`: overhead to Ready p99
//! 6.8 s for 1,000 objects, although every such poll needs one read and one status write).
//!
//! So kube-runtime runs every due reconcile at once (unbounded), and a reconcile takes one of these
//! slots before it does any I/O. A slot goes to the most urgent waiter ([`Rank`]), first come first
//! served within a rank:
//!
//! 1. [`Rank::Follow`]: the cloud is working on this object's service and a pass waits for the outcome
//!    (the service ID is known, the object is not Ready for its generation): the latency users see;
//! 2. [`Rank::Start`]: work started and not finished (the finalizer is on, no service yet), and
//!    deletions: an object goes on to its Create before the next new object starts;
//! 3. [`Rank::Routine`]: new objects (no finalizer yet) and the resyncs of Ready objects.
//!
//! Reconciles that end without I/O (a wait that has not run out, a parked object) do not take a slot.
//! [`Slots`] is the pure queue (table-tested); [`SlotGate`] hands its slots to tasks.

use std::collections::VecDeque;

use parking_lot::Mutex;
use tokio::sync::oneshot;

/// How urgent a pass is; the lower, the sooner it gets a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rank {
    /// Waits for the cloud to finish this object's service.
    Follow = 0,
    /// Work started and not finished, or a deletion.
    Start = 1,
    /// New objects and the resyncs of Ready objects.
    Routine = 2,
}

const RANKS: usize = 3;

/// What [`rank`] needs to know of an object.
#[derive(Clone, Copy, Debug, Default)]
pub struct Facts {
    /// The operator's finalizer is on the object.
    pub finalizer: bool,
    /// The object is being deleted.
    pub deleting: bool,
    /// The status names a service (the Create answered, or the service was adopted).
    pub service_known: bool,
    /// `Ready=True` for the object's current generation.
    pub ready: bool,
}

/// The urgency of a pass of an object.
pub fn rank(f: Facts) -> Rank {
    if f.deleting {
        Rank::Start
    } else if f.service_known && !f.ready {
        Rank::Follow
    } else if f.finalizer && !f.service_known {
        Rank::Start
    } else {
        Rank::Routine
    }
}

/// A fixed number of slots and the waiters for them, one queue per rank.
#[derive(Debug)]
pub struct Slots<T> {
    free: usize,
    waiting: [VecDeque<T>; RANKS],
}

impl<T> Slots<T> {
    /// `n` slots, all free (at least one).
    pub fn new(n: usize) -> Self {
        Self { free: n.max(1), waiting: Default::default() }
    }

    /// Take a slot now (gives the waiter back), or queue behind the waiters of the same or a more urgent
    /// rank (`None`). Nobody overtakes a queued waiter of the same or a more urgent rank.
    pub fn enter(&mut self, rank: Rank, waiter: T) -> Option<T> {
        let ahead = self.waiting[..=rank as usize].iter().any(|q| !q.is_empty());
        if self.free > 0 && !ahead {
            self.free -= 1;
            return Some(waiter);
        }
        self.waiting[rank as usize].push_back(waiter);
        None
    }

    /// A slot was given back: the first waiter of the most urgent rank takes it (returned), or it is free.
    pub fn leave(&mut self) -> Option<T> {
        match self.waiting.iter_mut().find_map(VecDeque::pop_front) {
            Some(next) => Some(next),
            None => {
                self.free += 1;
                None
            }
        }
    }

    /// Take every waiter out of the queues (the gate closes).
    pub fn drain(&mut self) -> Vec<T> {
        self.waiting.iter_mut().flat_map(std::mem::take).collect()
    }

    /// Waiters per rank.
    pub fn queued(&self) -> [usize; RANKS] {
        [self.waiting[0].len(), self.waiting[1].len(), self.waiting[2].len()]
    }
}

/// [`Slots`] for tasks: [`SlotGate::enter`] waits for a slot, and dropping the [`Slot`] hands it on.
pub struct SlotGate {
    inner: Mutex<Inner>,
}

struct Inner {
    slots: Slots<oneshot::Sender<()>>,
    /// Shutting down: nobody new gets a slot (the passes that hold one finish).
    closed: bool,
}

/// A held slot; dropping it hands the slot to the next waiter.
pub struct Slot<'a> {
    gate: &'a SlotGate,
}

impl SlotGate {
    /// A gate with `n` slots.
    pub fn new(n: usize) -> Self {
        Self { inner: Mutex::new(Inner { slots: Slots::new(n), closed: false }) }
    }

    /// Wait for a slot; `None` once the gate is closed (shutdown). Cancel-safe: a waiter dropped after it
    /// was handed a slot hands it on.
    pub async fn enter(&self, rank: Rank) -> Option<Slot<'_>> {
        let (tx, rx) = oneshot::channel();
        {
            let mut inner = self.inner.lock();
            if inner.closed {
                return None;
            }
            if inner.slots.enter(rank, tx).is_some() {
                return Some(Slot { gate: self });
            }
        }
        let mut waiting = Waiting { gate: self, rx, done: false };
        // The sender is dropped unsent only when the gate closes.
        let granted = (&mut waiting.rx).await.is_ok();
        waiting.done = true;
        granted.then_some(Slot { gate: self })
    }

    /// Shut down: every waiter gets `None` at once, and nobody new gets a slot.
    pub fn close(&self) {
        let waiters = {
            let mut inner = self.inner.lock();
            inner.closed = true;
            inner.slots.drain()
        };
        drop(waiters);
    }

    /// Waiters per rank (for the metrics).
    pub fn queued(&self) -> [usize; RANKS] {
        self.inner.lock().slots.queued()
    }

    fn hand_on(&self) {
        loop {
            let next = self.inner.lock().slots.leave();
            match next {
                // A waiter that is gone cannot take it: the next one does.
                Some(tx) => {
                    if tx.send(()).is_ok() {
                        return;
                    }
                }
                None => return,
            }
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.gate.hand_on();
    }
}

/// A queued waiter; if it is dropped (the task was cancelled) after a slot was sent to it, the slot goes on.
struct Waiting<'a> {
    gate: &'a SlotGate,
    rx: oneshot::Receiver<()>,
    /// The slot was received: the [`Slot`] owns it now.
    done: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.rx.close();
        if self.rx.try_recv().is_ok() {
            self.gate.hand_on();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_table() {
        let f =
            |finalizer, deleting, service_known, ready| Facts { finalizer, deleting, service_known, ready };
        let cases = [
            ("new object, no finalizer yet", f(false, false, false, false), Rank::Routine),
            ("finalizer on, Create not answered", f(true, false, false, false), Rank::Start),
            ("service Creating, poll waits for Active", f(true, false, true, false), Rank::Follow),
            ("Ready: routine resync", f(true, false, true, true), Rank::Routine),
            ("being deleted", f(true, true, true, true), Rank::Start),
            ("being deleted before any Create", f(true, true, false, false), Rank::Start),
            (
                "Ready without finalizer (adopted, finalizer removed by hand)",
                f(false, false, true, true),
                Rank::Routine,
            ),
        ];
        for (name, facts, want) in cases {
            assert_eq!(rank(facts), want, "{name}");
        }
    }

    /// Steps: `+(rank, id)` enters, `-` gives a slot back; `got` lists who holds a slot after each step
    /// was handed one (in order).
    type Step = Option<(Rank, u32)>;

    fn run(n: usize, steps: &[Step]) -> Vec<u32> {
        let mut s = Slots::new(n);
        let mut got = Vec::new();
        for step in steps {
            match *step {
                Some((rank, id)) => got.extend(s.enter(rank, id)),
                None => got.extend(s.leave()),
            }
        }
        got
    }

    #[test]
    fn slots_table() {
        use Rank::*;
        let e = |r, id| Some((r, id));
        let cases: [(&str, usize, Vec<Step>, Vec<u32>); 6] = [
            ("free slots are taken at once", 2, vec![e(Routine, 1), e(Start, 2)], vec![1, 2]),
            (
                "full: the next waits until one leaves",
                1,
                vec![e(Routine, 1), e(Routine, 2), None],
                vec![1, 2],
            ),
            (
                "a follow-up overtakes queued new work",
                1,
                vec![e(Routine, 1), e(Routine, 2), e(Routine, 3), e(Follow, 9), None, None, None],
                vec![1, 9, 2, 3],
            ),
            (
                "ranks in order, first come first served within one",
                1,
                vec![
                    e(Routine, 1),
                    e(Routine, 2),
                    e(Start, 3),
                    e(Follow, 4),
                    e(Start, 5),
                    e(Follow, 6),
                    None,
                    None,
                    None,
                    None,
                    None,
                ],
                vec![1, 4, 6, 3, 5, 2],
            ),
            (
                "a slot freed with nobody waiting stays free",
                1,
                vec![e(Routine, 1), None, e(Routine, 2)],
                vec![1, 2],
            ),
            (
                "no overtaking a queued waiter of the same rank when a slot frees",
                2,
                vec![e(Start, 1), e(Start, 2), e(Start, 3), None, e(Start, 4), None],
                vec![1, 2, 3, 4],
            ),
        ];
        for (name, n, steps, want) in cases {
            assert_eq!(run(n, &steps), want, "{name}");
        }
    }

    #[test]
    fn routine_waits_while_a_more_urgent_one_is_queued() {
        let mut s = Slots::new(1);
        assert_eq!(s.enter(Rank::Routine, 1), Some(1));
        assert_eq!(s.enter(Rank::Follow, 2), None);
        // Slot 1 leaves: 2 takes it; a new Routine waiter queues.
        assert_eq!(s.leave(), Some(2));
        assert_eq!(s.enter(Rank::Routine, 3), None);
        assert_eq!(s.queued(), [0, 0, 1]);
    }

    #[tokio::test]
    async fn gate_hands_slots_on_by_rank_and_survives_cancelled_waiters() {
        let gate = std::sync::Arc::new(SlotGate::new(1));
        let held = gate.enter(Rank::Routine).await.unwrap();
        let order = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (id, rank) in [(1, Rank::Routine), (2, Rank::Follow), (3, Rank::Start)] {
            let (gate, order) = (gate.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _slot = gate.enter(rank).await.unwrap();
                order.lock().push(id);
            }));
            tokio::task::yield_now().await;
        }
        // A waiter that gives up (its reconcile was cancelled) must not swallow a slot.
        let gone = {
            let gate = gate.clone();
            tokio::spawn(async move {
                let _slot = gate.enter(Rank::Follow).await;
                unreachable!("cancelled before its turn");
            })
        };
        tokio::task::yield_now().await;
        assert_eq!(gate.queued(), [2, 1, 1]);
        gone.abort();
        let _ = gone.await;
        drop(held);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock(), vec![2, 3, 1]);
        // Every slot came back.
        let _again = gate.enter(Rank::Routine).await.unwrap();
        assert_eq!(gate.queued(), [0, 0, 0]);
    }

    #[tokio::test]
    async fn closing_releases_every_waiter_and_admits_nobody_new() {
        let gate = std::sync::Arc::new(SlotGate::new(1));
        let held = gate.enter(Rank::Routine).await.unwrap();
        let waiter = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.enter(Rank::Follow).await.is_some() })
        };
        tokio::task::yield_now().await;
        gate.close();
        assert!(!waiter.await.unwrap(), "a waiter gets no slot once the gate closes");
        assert!(gate.enter(Rank::Follow).await.is_none());
        drop(held);
    }
}
