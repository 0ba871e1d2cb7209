//! Sessions, their deadlines, OTR keys and channel states: each change one transaction.

use super::deadline::{self, DeadlineKind, Due};
use super::error::{from_tx, Error, Result};
use super::model::{Deadlines, SecretBytes, Session, StoredSession, Timeouts, WhitelistSource};
use super::trees::{DEADLINES, OTR_CHANNELS, OTR_KEYS, OTR_TIMERS, SESSIONS, WHITELIST};
use super::{abort, codec, dec, enc, Store, WhitelistEntry};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

type TxResult<T> = std::result::Result<T, ConflictableTransactionError<Error>>;

/// Writes the index entries for `d`.
pub(super) fn put_deadlines(dl: &TransactionalTree, jid: &str, d: &Deadlines) -> TxResult<()> {
    if let Some(w) = d.warn_at {
        dl.insert(deadline::key(w, jid), enc(&DeadlineKind::Warn)?.as_slice())?;
    }
    dl.insert(
        deadline::key(d.expire_at, jid),
        enc(&DeadlineKind::Expire)?.as_slice(),
    )?;
    Ok(())
}

/// Removes the index entries for `d`.
pub(super) fn drop_deadlines(dl: &TransactionalTree, jid: &str, d: &Deadlines) -> TxResult<()> {
    if let Some(w) = d.warn_at {
        dl.remove(deadline::key(w, jid))?;
    }
    dl.remove(deadline::key(d.expire_at, jid))?;
    Ok(())
}

/// The entries of an index keyed `due time || JID` that are due at `now`.
fn due_range(index: &sled::Tree, now: u64) -> sled::Iter {
    match deadline::due_bound(now) {
        Some(end) => index.range(..end.to_vec()),
        None => index.range::<Vec<u8>, _>(..),
    }
}

/// Moves the OTR timer of `jid` to `at` (or removes it) in both its trees.
fn put_otr_timer(
    timers: &TransactionalTree,
    index: &TransactionalTree,
    jid: &str,
    at: Option<u64>,
) -> TxResult<()> {
    if let Some(v) = timers.get(jid.as_bytes())? {
        let old: u64 = dec(OTR_TIMERS, &v)?;
        index.remove(deadline::key(old, jid))?;
    }
    match at {
        Some(at) => {
            timers.insert(jid.as_bytes(), enc(&at)?.as_slice())?;
            index.insert(deadline::key(at, jid), &[] as &[u8])?;
        }
        None => {
            timers.remove(jid.as_bytes())?;
        }
    }
    Ok(())
}

fn get_session(s: &TransactionalTree, jid: &str) -> TxResult<Option<StoredSession>> {
    s.get(jid.as_bytes())?
        .map(|v| dec(SESSIONS, &v))
        .transpose()
}

impl Store {
    /// Creates a session for `jid`, deadlines counted from its `last_activity`, and gives it
    /// a key from the pool, all at once. Fails with [`Error::PoolEmpty`] when no key is ready
    /// (see [`KeyPool::create_session`](super::KeyPool::create_session) to wait for one) and
    /// [`Error::SessionExists`] when `jid` has a session.
    pub fn create_session(
        &self,
        jid: &str,
        session: &Session,
        t: Timeouts,
    ) -> Result<StoredSession> {
        let record = StoredSession {
            session: session.clone(),
            deadlines: Deadlines::after_activity(session.last_activity, t),
        };
        loop {
            if self.t.sessions.contains_key(jid.as_bytes())? {
                return Err(Error::SessionExists(jid.to_owned()));
            }
            let Some((pool_id, _)) = self.t.key_pool.first()? else {
                return Err(Error::PoolEmpty);
            };
            let done = (
                &self.t.sessions,
                &self.t.deadlines,
                &self.t.key_pool,
                &self.t.otr_keys,
                &self.t.otr_channels,
            )
                .transaction(|(s, dl, pool, keys, chans)| {
                    if s.get(jid.as_bytes())?.is_some() {
                        return abort(Error::SessionExists(jid.to_owned()));
                    }
                    // Taken by someone else since we looked: look again.
                    let Some(key) = pool.remove(&pool_id)? else {
                        return Ok(false);
                    };
                    keys.insert(jid.as_bytes(), key)?;
                    chans.remove(jid.as_bytes())?;
                    s.insert(jid.as_bytes(), enc(&record)?.as_slice())?;
                    put_deadlines(dl, jid, &record.deadlines)?;
                    self.durable(s);
                    Ok(true)
                })
                .map_err(from_tx)?;
            if done {
                return Ok(record);
            }
        }
    }

    /// Creates a session for `jid` that needs no OTR key (the OMEMO lesson): like
    /// [`Store::create_session`], but nothing is taken from the pool, so it never waits for one.
    pub fn create_session_without_key(
        &self,
        jid: &str,
        session: &Session,
        t: Timeouts,
    ) -> Result<StoredSession> {
        self.write_gate()?;
        let record = StoredSession {
            session: session.clone(),
            deadlines: Deadlines::after_activity(session.last_activity, t),
        };
        (
            &self.t.sessions,
            &self.t.deadlines,
            &self.t.otr_keys,
            &self.t.otr_channels,
        )
            .transaction(|(s, dl, keys, chans)| {
                if s.get(jid.as_bytes())?.is_some() {
                    return abort(Error::SessionExists(jid.to_owned()));
                }
                keys.remove(jid.as_bytes())?;
                chans.remove(jid.as_bytes())?;
                s.insert(jid.as_bytes(), enc(&record)?.as_slice())?;
                put_deadlines(dl, jid, &record.deadlines)?;
                self.durable(s);
                Ok(())
            })
            .map_err(from_tx)?;
        Ok(record)
    }

    /// The session of `jid`, if any.
    pub fn session(&self, jid: &str) -> Result<Option<StoredSession>> {
        self.t
            .sessions
            .get(jid.as_bytes())?
            .map(|v| codec::decode(SESSIONS, &v))
            .transpose()
    }

    /// Every session, in JID order.
    pub fn sessions(&self) -> Result<Vec<(String, StoredSession)>> {
        self.t
            .sessions
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                let jid = String::from_utf8(k.to_vec()).map_err(|_| Error::Decode {
                    tree: SESSIONS,
                    reason: "JID is not UTF-8".into(),
                })?;
                Ok((jid, codec::decode(SESSIONS, &v)?))
            })
            .collect()
    }

    /// How many sessions there are.
    pub fn session_count(&self) -> usize {
        self.t.sessions.len()
    }

    /// Changes a session's data (not its deadlines) with `f`; returns the new record.
    /// `f` may run more than once if another writer interferes.
    pub fn update_session<F>(&self, jid: &str, f: F) -> Result<StoredSession>
    where
        F: Fn(&mut Session),
    {
        self.write_gate()?;
        self.t
            .sessions
            .transaction(|s| {
                let Some(mut rec) = get_session(s, jid)? else {
                    return abort(Error::NoSession(jid.to_owned()));
                };
                f(&mut rec.session);
                s.insert(jid.as_bytes(), enc(&rec)?.as_slice())?;
                self.durable(s);
                Ok(rec)
            })
            .map_err(from_tx)
    }

    /// Records learner activity at `now`: moves the session's deadlines along.
    pub fn touch(&self, jid: &str, now: u64, t: Timeouts) -> Result<Deadlines> {
        self.write_gate()?;
        (&self.t.sessions, &self.t.deadlines)
            .transaction(|(s, dl)| {
                let Some(mut rec) = get_session(s, jid)? else {
                    return abort(Error::NoSession(jid.to_owned()));
                };
                drop_deadlines(dl, jid, &rec.deadlines)?;
                rec.session.last_activity = now;
                rec.deadlines = Deadlines::after_activity(now, t);
                put_deadlines(dl, jid, &rec.deadlines)?;
                s.insert(jid.as_bytes(), enc(&rec)?.as_slice())?;
                self.durable(s);
                Ok(rec.deadlines)
            })
            .map_err(from_tx)
    }

    /// Marks the warning of `jid` as given if it is due at `now`; true if this call did so
    /// (so exactly one caller sends the warning).
    pub fn mark_warned(&self, jid: &str, now: u64) -> Result<bool> {
        (&self.t.sessions, &self.t.deadlines)
            .transaction(|(s, dl)| {
                let Some(mut rec) = get_session(s, jid)? else {
                    return Ok(false);
                };
                match rec.deadlines.warning_due(now) {
                    Some(w) => {
                        dl.remove(deadline::key(w, jid))?;
                        rec.deadlines.warn_at = None;
                        s.insert(jid.as_bytes(), enc(&rec)?.as_slice())?;
                        self.durable(s);
                        Ok(true)
                    }
                    None => Ok(false),
                }
            })
            .map_err(from_tx)
    }

    /// Ends the session of `jid` if its expiry is due at `now`; returns what was removed.
    pub fn expire_if_due(&self, jid: &str, now: u64) -> Result<Option<StoredSession>> {
        self.end_session(jid, Some(now))
    }

    /// Ends the session of `jid` now (operator's kill); returns what was removed.
    pub fn remove_session(&self, jid: &str) -> Result<Option<StoredSession>> {
        self.end_session(jid, None)
    }

    /// Deletes the session, its deadline entries, OTR key, channel state, timer and stage times, and its
    /// whitelist entry when that came from an LTI launch (operators' entries stay).
    fn end_session(&self, jid: &str, due_at: Option<u64>) -> Result<Option<StoredSession>> {
        self.write_gate()?;
        (
            &self.t.sessions,
            &self.t.deadlines,
            &self.t.otr_keys,
            &self.t.otr_channels,
            &self.t.whitelist,
            &self.t.otr_timers,
            &self.t.otr_timer_index,
            &self.t.stage_times,
        )
            .transaction(|(s, dl, keys, chans, wl, timers, timer_index, times)| {
                let Some(rec) = get_session(s, jid)? else {
                    return Ok(None);
                };
                if due_at.is_some_and(|now| !rec.deadlines.expired(now)) {
                    return Ok(None);
                }
                drop_deadlines(dl, jid, &rec.deadlines)?;
                s.remove(jid.as_bytes())?;
                keys.remove(jid.as_bytes())?;
                chans.remove(jid.as_bytes())?;
                times.remove(jid.as_bytes())?;
                put_otr_timer(timers, timer_index, jid, None)?;
                if let Some(v) = wl.get(jid.as_bytes())? {
                    let e: WhitelistEntry = dec(WHITELIST, &v)?;
                    if e.source == WhitelistSource::Lti {
                        wl.remove(jid.as_bytes())?;
                    }
                }
                self.durable(s);
                Ok(Some(rec))
            })
            .map_err(from_tx)
    }

    /// The session's OTR private key.
    pub fn otr_key(&self, jid: &str) -> Result<Option<SecretBytes>> {
        self.t
            .otr_keys
            .get(jid.as_bytes())?
            .map(|v| codec::decode(OTR_KEYS, &v))
            .transpose()
    }

    /// The session's last saved OTR channel state.
    pub fn channel_state(&self, jid: &str) -> Result<Option<SecretBytes>> {
        self.t
            .otr_channels
            .get(jid.as_bytes())?
            .map(|v| codec::decode(OTR_CHANNELS, &v))
            .transpose()
    }

    fn put_channel_state(&self, jid: &str, state: &[u8], flush: bool) -> Result<()> {
        self.write_gate()?;
        #[cfg(test)]
        self.channel_writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let value = codec::encode(&SecretBytes::from(state))?;
        (&self.t.sessions, &self.t.otr_channels)
            .transaction(|(s, chans)| {
                if s.get(jid.as_bytes())?.is_none() {
                    return abort(Error::NoSession(jid.to_owned()));
                }
                chans.insert(jid.as_bytes(), value.as_slice())?;
                if flush {
                    chans.flush();
                }
                Ok(())
            })
            .map_err(from_tx)
    }

    /// Saves the OTR channel state of `jid` and returns only once it is on disk: call it
    /// before sending any message made from that state, so a crash never reuses a counter.
    pub fn save_channel_state(&self, jid: &str, state: &[u8]) -> Result<()> {
        self.put_channel_state(jid, state, true)
    }

    /// Writes a channel state that nothing was sent from (a read: a held fragment, the peer's
    /// new key); it reaches the disk with the next flush.
    pub fn keep_channel_state(&self, jid: &str, state: &[u8]) -> Result<()> {
        self.put_channel_state(jid, state, false)
    }

    /// [`save_channel_state`](Self::save_channel_state) that waits for the disk without
    /// blocking the async runtime.
    pub async fn save_channel_state_async(&self, jid: &str, state: &[u8]) -> Result<()> {
        self.put_channel_state(jid, state, false)?;
        self.flush_async().await
    }

    /// Sets when the OTR channel of `jid` next wants its timer ([`DeadlineKind::OtrTimer`]),
    /// or clears it; nothing is written when it is already so. Not in the channel state's
    /// transaction: a timer lost in a crash leaves a stale AKE to the learner's next message
    /// (as before there were timers), and a timer left over fires once and finds nothing.
    pub fn set_otr_timer(&self, jid: &str, at: Option<u64>) -> Result<()> {
        let current = self
            .t
            .otr_timers
            .get(jid.as_bytes())?
            .map(|v| codec::decode::<u64>(OTR_TIMERS, &v))
            .transpose()?;
        if current == at {
            return Ok(());
        }
        self.write_gate()?;
        (
            &self.t.sessions,
            &self.t.otr_timers,
            &self.t.otr_timer_index,
        )
            .transaction(|(s, timers, index)| {
                let at = if s.get(jid.as_bytes())?.is_some() {
                    at
                } else {
                    None
                };
                put_otr_timer(timers, index, jid, at)
            })
            .map_err(from_tx)
    }

    /// What is due at `now`: one range scan over the deadline index, reading only due entries.
    /// Entries that cannot be decoded are logged and skipped, so one bad record stops nothing.
    pub fn due(&self, now: u64) -> Result<Vec<Due>> {
        let mut entries = Vec::new();
        for kv in due_range(&self.t.deadlines, now) {
            let (k, v) = kv?;
            let parsed = deadline::parse_key(&k).and_then(|(at, jid)| {
                codec::decode::<DeadlineKind>(DEADLINES, &v).map(|kind| (at, jid, kind))
            });
            match parsed {
                Ok(e) => entries.push(e),
                Err(e) => tracing::warn!(error = %e, "skipping a bad deadline entry"),
            }
        }
        for kv in due_range(&self.t.otr_timer_index, now) {
            let (k, _) = kv?;
            match deadline::parse_key(&k) {
                Ok((at, jid)) => entries.push((at, jid, DeadlineKind::OtrTimer)),
                Err(e) => tracing::warn!(error = %e, "skipping a bad OTR timer entry"),
            }
        }
        Ok(deadline::due_events(entries, now))
    }

    /// How many keys wait in the pool.
    pub fn pool_len(&self) -> usize {
        self.t.key_pool.len()
    }

    /// Adds a pre-generated private key to the pool.
    pub fn pool_add(&self, key: &SecretBytes) -> Result<()> {
        let id = self.db.generate_id()?;
        let value = codec::encode(key)?;
        self.t.key_pool.insert(id.to_be_bytes(), value.as_slice())?;
        if self.opts.flush_every_write {
            self.t.key_pool.flush()?;
        }
        Ok(())
    }
}
