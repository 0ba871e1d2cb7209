//! LTI launch nonces (replay protection, pruned after expiry) and the grade outbox.

use super::error::{from_tx, Error, Result};
use super::model::GradeRequest;
use super::trees::{GRADE_OUTBOX, LTI_NONCES, LTI_NONCE_EXPIRY};
use super::{codec, dec, enc, expiry, Store};
use sled::Transactional;

/// The nonce tree key: u16 big-endian length of the consumer key, the key, the nonce.
fn nonce_key(consumer_key: &str, nonce: &str) -> Result<Vec<u8>> {
    let len = u16::try_from(consumer_key.len())
        .map_err(|_| Error::Encode("consumer key longer than 65535 bytes".into()))?;
    let mut k = Vec::with_capacity(2 + consumer_key.len() + nonce.len());
    k.extend_from_slice(&len.to_be_bytes());
    k.extend_from_slice(consumer_key.as_bytes());
    k.extend_from_slice(nonce.as_bytes());
    Ok(k)
}

fn id_of(k: &[u8]) -> Result<u64> {
    let raw: [u8; 8] = k.try_into().map_err(|_| Error::Decode {
        tree: GRADE_OUTBOX,
        reason: "outbox id is not 8 bytes".into(),
    })?;
    Ok(u64::from_be_bytes(raw))
}

impl Store {
    /// Records an LTI nonce of `consumer_key` valid until `expires_at`; false if the same
    /// nonce was recorded before and has not expired at `now` (a replayed launch).
    pub fn nonce_check_and_store(
        &self,
        consumer_key: &str,
        nonce: &str,
        expires_at: u64,
        now: u64,
    ) -> Result<bool> {
        let key = nonce_key(consumer_key, nonce)?;
        (&self.t.nonces, &self.t.nonce_expiry)
            .transaction(|(n, ix)| {
                if let Some(v) = n.get(&key)? {
                    let old: u64 = dec(LTI_NONCES, &v)?;
                    if old > now {
                        return Ok(false);
                    }
                    ix.remove(expiry::key(old, &key))?;
                }
                n.insert(key.as_slice(), enc(&expires_at)?.as_slice())?;
                ix.insert(expiry::key(expires_at, &key), &[])?;
                self.durable(n);
                Ok(true)
            })
            .map_err(from_tx)
    }

    /// Removes every nonce expired at `now` (a range scan of the expiry index); returns how many.
    pub fn prune_nonces(&self, now: u64) -> Result<usize> {
        // Only nonces not recorded again with a later expiry.
        expiry::prune(
            &self.t.nonces,
            &self.t.nonce_expiry,
            LTI_NONCE_EXPIRY,
            now,
            &|v| dec(LTI_NONCES, v),
        )
    }

    /// How many nonces are recorded.
    pub fn nonce_count(&self) -> usize {
        self.t.nonces.len()
    }

    /// Puts a grade in the outbox; returns its id once it is on disk. A grade still queued
    /// for the same result (consumer, service URL and sourcedid) is replaced: `replaceResult`
    /// keeps only the last score, so the outbox holds at most one grade per result.
    pub fn grade_enqueue(&self, req: &GradeRequest) -> Result<u64> {
        self.write_gate()?;
        let same = self.grades_of_same_result(req);
        let id = self.db.generate_id()?;
        let value = codec::encode(req)?;
        self.t
            .outbox
            .transaction(|o| {
                for k in &same {
                    o.remove(k)?;
                }
                o.insert(&id.to_be_bytes(), value.as_slice())?;
                Ok::<(), sled::transaction::ConflictableTransactionError<Error>>(())
            })
            .map_err(from_tx)?;
        self.t.outbox.flush()?;
        Ok(id)
    }

    /// The outbox keys of grades queued for the same result as `req` (consumer, service URL
    /// and sourcedid), which a new grade for it replaces.
    pub(crate) fn grades_of_same_result(&self, req: &GradeRequest) -> Vec<sled::IVec> {
        self.t
            .outbox
            .iter()
            .filter_map(|kv| {
                let (k, v) = kv.ok()?;
                let g: GradeRequest = codec::decode(GRADE_OUTBOX, &v).ok()?;
                (g.consumer_key == req.consumer_key
                    && g.url == req.url
                    && g.sourcedid == req.sourcedid)
                    .then_some(k)
            })
            .collect()
    }

    /// Every grade in the outbox, oldest first.
    pub fn grades(&self) -> Result<Vec<(u64, GradeRequest)>> {
        self.t
            .outbox
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                Ok((id_of(&k)?, codec::decode(GRADE_OUTBOX, &v)?))
            })
            .collect()
    }

    /// The grades whose next try is due at `now`.
    pub fn grades_due(&self, now: u64) -> Result<Vec<(u64, GradeRequest)>> {
        Ok(self
            .grades()?
            .into_iter()
            .filter(|(_, g)| g.next_try <= now)
            .collect())
    }

    /// Removes a grade the LMS accepted; true if it was there.
    pub fn grade_done(&self, id: u64) -> Result<bool> {
        let old = self.t.outbox.remove(id.to_be_bytes())?;
        self.t.outbox.flush()?;
        Ok(old.is_some())
    }

    /// Records a failed try: one more attempt, the error, and when to try again.
    pub fn grade_retry(&self, id: u64, next_try: u64, error: &str) -> Result<GradeRequest> {
        let key = id.to_be_bytes();
        let g = self
            .t
            .outbox
            .transaction(|o| {
                let Some(v) = o.get(key)? else {
                    return super::abort(Error::NoGrade(id));
                };
                let mut g: GradeRequest = dec(GRADE_OUTBOX, &v)?;
                g.attempts = g.attempts.saturating_add(1);
                g.next_try = next_try;
                g.last_error = Some(error.to_owned());
                o.insert(&key, enc(&g)?.as_slice())?;
                o.flush();
                Ok(g)
            })
            .map_err(from_tx)?;
        Ok(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grade(sourcedid: &str, score: f64) -> GradeRequest {
        GradeRequest {
            url: "https://lms.example/outcomes".into(),
            sourcedid: sourcedid.into(),
            score,
            consumer_key: "key".into(),
            attempts: 0,
            next_try: 0,
            last_error: None,
        }
    }

    #[test]
    fn outbox_holds_one_grade_per_result() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        for i in 0..100 {
            s.grade_enqueue(&grade("learner-1", f64::from(i) / 100.0))
                .unwrap();
        }
        s.grade_enqueue(&grade("learner-2", 1.0)).unwrap();
        let all = s.grades().unwrap();
        assert_eq!(all.len(), 2, "{all:?}");
        assert_eq!(all[0].1.sourcedid, "learner-1");
        assert_eq!(all[0].1.score, 0.99, "the last score is kept");
        let mut other = grade("learner-1", 1.0);
        other.consumer_key = "other".into();
        s.grade_enqueue(&other).unwrap();
        assert_eq!(
            s.grades().unwrap().len(),
            3,
            "another consumer's result is another"
        );
    }

    #[test]
    fn nonces_are_pruned_after_expiry() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        for i in 0..500 {
            assert!(s
                .nonce_check_and_store("key", &format!("n{i}"), 1000 + i, 900)
                .unwrap());
        }
        assert!(!s.nonce_check_and_store("key", "n7", 2000, 950).unwrap());
        assert_eq!(s.prune_nonces(1250).unwrap(), 251);
        assert_eq!(s.nonce_count(), 249);
        assert_eq!(s.prune_nonces(2000).unwrap(), 249);
        assert_eq!(s.nonce_count(), 0, "every nonce goes once expired");
        assert_eq!(s.t.nonce_expiry.len(), 0, "and its index entry too");
    }
}
