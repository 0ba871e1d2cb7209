//! Per-learner turn locks and inboxes: one learner's turns run one at a time, at most
//! [`MAX_WAITING`] of them wait behind the running one, what a learner sent waits within
//! [`INBOX_BOUND`], and a JID has an entry only while a turn for it runs or waits, so the
//! maps never outgrow the work in flight.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::{Mutex as TurnMutex, OwnedMutexGuard};

/// How many chat turns of one learner may wait behind the running one; more are dropped.
pub const MAX_WAITING: usize = 16;

/// The turn locks of every learner with a turn in flight; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct TurnLocks {
    map: Arc<Mutex<HashMap<String, Slot>>>,
}

struct Slot {
    lock: Arc<TurnMutex<()>>,
    /// Tickets alive for this JID (the running turn and the waiting ones).
    users: usize,
}

/// A place in one learner's queue; [`Ticket::lock`] waits for the turn.
pub struct Ticket {
    locks: TurnLocks,
    jid: String,
    lock: Arc<TurnMutex<()>>,
}

/// A learner's turn: held until dropped.
pub struct Held {
    // Field order matters: the lock is released before the ticket leaves the queue.
    _guard: OwnedMutexGuard<()>,
    _ticket: Ticket,
}

impl TurnLocks {
    /// Joins `jid`'s queue, however long it is (deadlines and course-page events).
    pub fn enter(&self, jid: &str) -> Ticket {
        self.join(jid, usize::MAX)
            .unwrap_or_else(|| unreachable!("an unlimited queue always has room"))
    }

    /// Joins `jid`'s queue unless `max_waiting` turns already wait behind a running one.
    pub fn try_enter(&self, jid: &str, max_waiting: usize) -> Option<Ticket> {
        self.join(jid, max_waiting)
    }

    fn join(&self, jid: &str, max_waiting: usize) -> Option<Ticket> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let slot = map.entry(jid.to_owned()).or_insert_with(|| Slot {
            lock: Arc::default(),
            users: 0,
        });
        if slot.users > max_waiting {
            return None;
        }
        slot.users += 1;
        Some(Ticket {
            locks: self.clone(),
            jid: jid.to_owned(),
            lock: slot.lock.clone(),
        })
    }

    /// How many JIDs have a turn running or waiting.
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// True when no turn runs or waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Ticket {
    /// Waits until this learner's earlier turns are done.
    pub async fn lock(self) -> Held {
        let guard = self.lock.clone().lock_owned().await;
        Held {
            _guard: guard,
            _ticket: self,
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut map = self.locks.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = map.get_mut(&self.jid) {
            slot.users = slot.users.saturating_sub(1);
            if slot.users == 0 {
                map.remove(&self.jid);
            }
        }
    }
}

/// How much of one learner's chat may wait for its drainer; more is dropped.
///
/// Sized for a client that fragments: libotr at a 150-byte fragment size sends one SMP
/// message in 14 to 20 stanzas, all at once, and each must arrive or the message is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboxBound {
    /// Messages waiting.
    pub items: usize,
    /// Bytes of the messages waiting.
    pub bytes: usize,
}

/// The bot's bound: 256 messages or 1 MiB (two reassembly buffers' worth) per learner.
pub const INBOX_BOUND: InboxBound = InboxBound {
    items: 256,
    bytes: 2 * crate::otr::fragment::MAX_REASSEMBLED,
};

/// One learner's waiting messages and their size.
struct Queue<T> {
    items: VecDeque<(T, usize)>,
    bytes: usize,
}

/// Per-learner inboxes: what one learner sent is taken in arrival order (OTR fragments and
/// data messages must be read in the order they came), by one drainer per learner at a time;
/// a JID has an inbox only while something of it waits or runs.
pub struct Inbox<T> {
    map: Arc<Mutex<HashMap<String, Queue<T>>>>,
}

impl<T> Clone for Inbox<T> {
    fn clone(&self) -> Self {
        Inbox {
            map: self.map.clone(),
        }
    }
}

impl<T> Default for Inbox<T> {
    fn default() -> Self {
        Inbox {
            map: Arc::default(),
        }
    }
}

/// What [`Inbox::push`] did with an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// The learner had nothing waiting: the caller must start a drainer ([`Inbox::next`]).
    Start,
    /// Queued behind what a drainer is already taking.
    Queued,
    /// Dropped: `max` items already wait.
    Dropped,
}

impl<T> Inbox<T> {
    /// Adds `item` (`bytes` long) from `jid` at the end of its inbox, unless that would
    /// take the inbox past `bound`.
    pub fn push(&self, jid: &str, item: T, bytes: usize, bound: InboxBound) -> Pushed {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match map.get_mut(jid) {
            Some(q) if q.items.len() >= bound.items || q.bytes + bytes > bound.bytes => {
                Pushed::Dropped
            }
            Some(q) => {
                q.items.push_back((item, bytes));
                q.bytes += bytes;
                Pushed::Queued
            }
            None => {
                let q = Queue {
                    items: VecDeque::from([(item, bytes)]),
                    bytes,
                };
                map.insert(jid.to_owned(), q);
                Pushed::Start
            }
        }
    }

    /// The drainer's next item of `jid`; `None` (and the inbox gone) when it is empty.
    pub fn next(&self, jid: &str) -> Option<T> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let item = map.get_mut(jid).and_then(|q| {
            let (item, bytes) = q.items.pop_front()?;
            q.bytes -= bytes;
            Some(item)
        });
        if item.is_none() {
            map.remove(jid);
        }
        item
    }

    /// How many JIDs have an inbox.
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// True when nobody's message waits or runs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn entries_live_only_while_turns_are_in_flight() {
        let locks = TurnLocks::default();
        for i in 0..1000 {
            let held = locks.enter(&format!("learner{i}@example.org")).lock().await;
            assert_eq!(locks.len(), 1);
            drop(held);
        }
        assert!(
            locks.is_empty(),
            "the map does not grow with every JID seen"
        );
        // A ticket given up while waiting (its task cancelled) leaves no entry either.
        let held = locks.enter("a@example.org").lock().await;
        let waiting = locks.enter("a@example.org");
        drop(waiting);
        drop(held);
        assert!(locks.is_empty());
    }

    #[tokio::test]
    async fn one_learner_runs_serially_and_the_queue_is_bounded() {
        let locks = TurnLocks::default();
        let running = locks.enter("a@example.org").lock().await;
        let waiting: Vec<Ticket> = (0..3)
            .map(|_| locks.try_enter("a@example.org", 3).expect("room"))
            .collect();
        assert!(locks.try_enter("a@example.org", 3).is_none(), "queue full");
        // Another learner is not held up by a's queue.
        let b = locks.try_enter("b@example.org", 3).expect("b has room");
        let b = tokio::time::timeout(Duration::from_secs(1), b.lock())
            .await
            .expect("b's turn runs at once");
        drop(b);
        // a's next turn waits for the running one.
        let mut it = waiting.into_iter();
        let next = it.next().unwrap();
        let pending = tokio::spawn(next.lock());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!pending.is_finished(), "the second turn waits");
        drop(running);
        let held = pending.await.unwrap();
        assert!(locks.try_enter("a@example.org", 3).is_some(), "room again");
        drop(held);
        drop(it);
        assert!(locks.is_empty());
    }

    #[test]
    fn inbox_keeps_arrival_order_and_bounds_and_forgets() {
        let inbox = Inbox::default();
        let bound = InboxBound {
            items: 3,
            bytes: 100,
        };
        assert_eq!(inbox.push("a", 1, 1, bound), Pushed::Start);
        assert_eq!(inbox.push("a", 2, 1, bound), Pushed::Queued);
        assert_eq!(inbox.push("b", 9, 1, bound), Pushed::Start);
        assert_eq!(inbox.push("a", 3, 1, bound), Pushed::Queued);
        assert_eq!(inbox.push("a", 4, 1, bound), Pushed::Dropped, "3 wait");
        assert_eq!(inbox.next("a"), Some(1));
        assert_eq!(inbox.push("a", 5, 1, bound), Pushed::Queued);
        let rest: Vec<i32> = std::iter::from_fn(|| inbox.next("a")).collect();
        assert_eq!(rest, [2, 3, 5]);
        assert_eq!(inbox.len(), 1, "a's inbox is gone once drained");
        assert_eq!(inbox.next("b"), Some(9));
        assert_eq!(inbox.next("b"), None);
        assert!(inbox.is_empty());
        assert_eq!(
            inbox.push("a", 7, 1, bound),
            Pushed::Start,
            "a new drainer after the end"
        );
    }

    #[test]
    fn inbox_bounds_the_bytes_waiting_and_frees_them_as_they_are_taken() {
        let inbox = Inbox::default();
        let bound = InboxBound {
            items: 100,
            bytes: 100,
        };
        assert_eq!(
            inbox.push("a", 0, 500, bound),
            Pushed::Start,
            "one always runs"
        );
        assert_eq!(
            inbox.push("a", 1, 1, bound),
            Pushed::Dropped,
            "500 bytes wait"
        );
        assert_eq!(inbox.next("a"), Some(0));
        assert_eq!(inbox.push("a", 2, 60, bound), Pushed::Queued);
        assert_eq!(inbox.push("a", 3, 41, bound), Pushed::Dropped, "101 bytes");
        assert_eq!(inbox.push("a", 4, 40, bound), Pushed::Queued);
        assert_eq!(inbox.next("a"), Some(2));
        assert_eq!(
            inbox.push("a", 5, 60, bound),
            Pushed::Queued,
            "60 bytes freed"
        );
        assert_eq!(inbox.next("a"), Some(4));
        assert_eq!(inbox.next("a"), Some(5));
        assert_eq!(inbox.next("a"), None);
    }
}
