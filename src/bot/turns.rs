//! Per-learner turn locks: one learner's turns run one at a time, at most [`MAX_WAITING`] of
//! them wait behind the running one, and a JID has an entry only while a turn for it runs or
//! waits, so the map never outgrows the work in flight.

use std::collections::HashMap;
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
}
