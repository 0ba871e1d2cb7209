//! The course pages' visits, kept here behind a small cookie that holds only their id; the
//! JIDs each LMS learner has put through the bot (bounded), and their names.

use super::error::{from_tx, Error, Result};
use super::trees::{LTI_CLAIMS, LTI_NAMES, LTI_VISITS, LTI_VISIT_EXPIRY};
use super::{dec, enc, expiry, Store};
use sled::Transactional;

/// The longest encoded visit kept, in bytes (a launch's fields are bounded well below this).
pub const MAX_VISIT_BYTES: usize = 64 * 1024;

/// What [`Store::claim_jid`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The JID is (now) one of this learner's.
    Granted,
    /// This learner has put `max` other JIDs through the bot within the window.
    TooMany,
}

/// The claim tree's key for one learner (bounded: launch fields are at most 1 KiB each).
fn learner_key(learner: &str) -> Result<Vec<u8>> {
    if learner.len() > 4096 {
        return Err(Error::Encode("learner key longer than 4096 bytes".into()));
    }
    Ok(learner.as_bytes().to_vec())
}

impl Store {
    /// Keeps the visit `id` (its encoded form) until `expires_at`, replacing an earlier one.
    pub fn visit_put(&self, id: &[u8], visit: &[u8], expires_at: u64) -> Result<()> {
        if visit.len() > MAX_VISIT_BYTES {
            return Err(Error::Encode(format!(
                "a visit of {} bytes (at most {MAX_VISIT_BYTES})",
                visit.len()
            )));
        }
        let value = super::codec::encode(&(expires_at, visit.to_vec()))?;
        (&self.t.visits, &self.t.visit_expiry)
            .transaction(|(v, ix)| {
                if let Some(old) = v.get(id)? {
                    let (at, _): (u64, Vec<u8>) = dec(LTI_VISITS, &old)?;
                    ix.remove(expiry::key(at, id))?;
                }
                v.insert(id, value.as_slice())?;
                ix.insert(expiry::key(expires_at, id), &[])?;
                self.durable(v);
                Ok(())
            })
            .map_err(from_tx)
    }

    /// The encoded visit `id`, unless unknown or expired at `now`.
    pub fn visit_get(&self, id: &[u8], now: u64) -> Result<Option<Vec<u8>>> {
        let Some(v) = self.t.visits.get(id)? else {
            return Ok(None);
        };
        let (at, visit): (u64, Vec<u8>) = super::codec::decode(LTI_VISITS, &v)?;
        Ok((at > now).then_some(visit))
    }

    /// Removes every visit expired at `now`; returns how many.
    pub fn prune_visits(&self, now: u64) -> Result<usize> {
        expiry::prune(
            &self.t.visits,
            &self.t.visit_expiry,
            LTI_VISIT_EXPIRY,
            now,
            &|v| dec::<(u64, Vec<u8>)>(LTI_VISITS, v).map(|(at, _)| at),
        )
    }

    /// How many visits are kept.
    pub fn visit_count(&self) -> usize {
        self.t.visits.len()
    }

    /// Keeps the LMS learner `learner`'s name as the launch gave it (the last one wins).
    pub fn learner_name_put(&self, learner: &str, name: &str) -> Result<()> {
        let key = learner_key(learner)?;
        if self.learner_name(learner)?.as_deref() != Some(name) {
            let bytes = super::codec::encode(name)?;
            self.t.names.insert(key, bytes.as_slice())?;
        }
        Ok(())
    }

    /// The LMS learner `learner`'s name, if a launch gave one.
    pub fn learner_name(&self, learner: &str) -> Result<Option<String>> {
        match self.t.names.get(learner_key(learner)?)? {
            Some(v) => Ok(Some(super::codec::decode(LTI_NAMES, &v)?)),
            None => Ok(None),
        }
    }

    /// Records that the LMS learner `learner` puts `jid` through the bot at `now`. A JID
    /// already theirs is always granted; another is refused once `max` JIDs were claimed
    /// within `window` seconds. One record per learner, read and written in one
    /// transaction, so requests sent at once cannot all pass.
    pub fn claim_jid(
        &self,
        learner: &str,
        jid: &str,
        now: u64,
        window: u64,
        max: usize,
    ) -> Result<Claim> {
        let key = learner_key(learner)?;
        self.t
            .claims
            .transaction(|c| {
                let mut claims: Vec<(String, u64)> = match c.get(&key)? {
                    Some(v) => dec(LTI_CLAIMS, &v)?,
                    None => Vec::new(),
                };
                claims.retain(|(_, at)| at.saturating_add(window) > now);
                if claims.iter().any(|(j, _)| j == jid) {
                    return Ok(Claim::Granted);
                }
                if claims.len() >= max {
                    return Ok(Claim::TooMany);
                }
                claims.push((jid.to_owned(), now));
                c.insert(key.as_slice(), enc(&claims)?.as_slice())?;
                self.durable(c);
                Ok(Claim::Granted)
            })
            .map_err(from_tx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visits_expire_and_are_pruned() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        s.visit_put(b"a", b"one", 100).unwrap();
        s.visit_put(b"b", b"two", 200).unwrap();
        assert_eq!(s.visit_get(b"a", 99).unwrap().as_deref(), Some(&b"one"[..]));
        assert_eq!(s.visit_get(b"a", 100).unwrap(), None, "expired");
        // Kept longer when saved again.
        s.visit_put(b"a", b"one'", 300).unwrap();
        assert_eq!(s.prune_visits(250).unwrap(), 1);
        assert_eq!(s.visit_get(b"b", 0).unwrap(), None);
        assert_eq!(
            s.visit_get(b"a", 250).unwrap().as_deref(),
            Some(&b"one'"[..])
        );
        assert_eq!(s.visit_count(), 1);
        assert!(s.visit_put(b"c", &vec![0; MAX_VISIT_BYTES + 1], 1).is_err());
    }

    #[test]
    fn claims_are_bounded_per_learner() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let claim = |who: &str, jid: &str, now| s.claim_jid(who, jid, now, 100, 2).unwrap();
        assert_eq!(claim("u1", "a@x", 0), Claim::Granted);
        assert_eq!(claim("u1", "b@x", 1), Claim::Granted);
        assert_eq!(claim("u1", "c@x", 2), Claim::TooMany);
        assert_eq!(claim("u1", "a@x", 3), Claim::Granted, "its own JID again");
        assert_eq!(claim("u2", "c@x", 3), Claim::Granted, "another learner");
        assert_eq!(claim("u1", "c@x", 101), Claim::Granted, "the window passed");
    }
}
