//! The background scanner: every interval, hand what is due to the bot and prune old nonces.

use super::{Due, Store};
use crate::clock::unix_now;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// One pass at `now`: sends each due deadline to `events`, prunes expired nonces.
/// Returns how many deadlines were sent. Delivery is at least once: the receiver makes each
/// transition with [`Store::mark_warned`] / [`Store::expire_if_due`], which happen only once.
pub async fn scan_once(store: &Store, now: u64, events: &mpsc::Sender<Due>) -> usize {
    let due = match store.due(now) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "scanner: cannot read the deadline index");
            Vec::new()
        }
    };
    let n = due.len();
    for d in due {
        if events.send(d).await.is_err() {
            break;
        }
    }
    match store.prune_nonces(now) {
        Ok(0) => {}
        Ok(p) => tracing::debug!(pruned = p, "scanner: pruned expired LTI nonces"),
        Err(e) => tracing::error!(error = %e, "scanner: cannot prune nonces"),
    }
    match store.prune_visits(now) {
        Ok(0) => {}
        Ok(p) => tracing::debug!(pruned = p, "scanner: pruned expired course-page visits"),
        Err(e) => tracing::error!(error = %e, "scanner: cannot prune visits"),
    }
    n
}

/// Scans every `interval` until `shutdown` turns true or the receiver of `events` is gone.
pub async fn run(
    store: Store,
    interval: Duration,
    events: mpsc::Sender<Due>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
        if events.is_closed() {
            break;
        }
        let n = scan_once(&store, unix_now(), &events).await;
        if n > 0 {
            tracing::debug!(due = n, "scanner: deadlines due");
        }
    }
}
