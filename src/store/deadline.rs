//! The deadline index: keys `due time (8 bytes, big-endian) || JID`, so what is due is a prefix.

use super::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// What happens when a deadline passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeadlineKind {
    /// Warn the learner that the session will expire.
    Warn,
    /// End the session.
    Expire,
    /// The session's OTR channel wants its timer (a stale AKE or fragment to forget).
    OtrTimer,
}

/// A deadline that has passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The learner's bare JID.
    pub jid: String,
    /// Warn, expire, or the OTR timer.
    pub kind: DeadlineKind,
    /// When it fell due (Unix seconds).
    pub at: u64,
}

/// The index key for a deadline at `at` for `jid`.
pub fn key(at: u64, jid: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + jid.len());
    k.extend_from_slice(&at.to_be_bytes());
    k.extend_from_slice(jid.as_bytes());
    k
}

/// Splits an index key into its time and JID.
pub fn parse_key(k: &[u8]) -> Result<(u64, String)> {
    let bad = |reason: &str| Error::Decode {
        tree: super::trees::DEADLINES,
        reason: reason.into(),
    };
    if k.len() <= 8 {
        return Err(bad("deadline key too short"));
    }
    let mut at = [0u8; 8];
    at.copy_from_slice(&k[..8]);
    let jid = std::str::from_utf8(&k[8..]).map_err(|_| bad("JID is not UTF-8"))?;
    Ok((u64::from_be_bytes(at), jid.to_owned()))
}

/// The exclusive upper bound of the keys due at `now`, or `None` when everything is due.
pub fn due_bound(now: u64) -> Option<[u8; 8]> {
    now.checked_add(1).map(u64::to_be_bytes)
}

/// What is due at `now`, given index entries in key order: every entry up to `now`, except a
/// warning or OTR timer for a JID whose expiry is also due (after downtime the learner gets
/// only the expiry, which takes the OTR state with the session).
pub fn due_events<I>(entries: I, now: u64) -> Vec<Due>
where
    I: IntoIterator<Item = (u64, String, DeadlineKind)>,
{
    let due: Vec<Due> = entries
        .into_iter()
        .take_while(|(at, _, _)| *at <= now)
        .map(|(at, jid, kind)| Due { jid, kind, at })
        .collect();
    let expiring: HashSet<&str> = due
        .iter()
        .filter(|d| d.kind == DeadlineKind::Expire)
        .map(|d| d.jid.as_str())
        .collect();
    let keep: Vec<bool> = due
        .iter()
        .map(|d| d.kind == DeadlineKind::Expire || !expiring.contains(d.jid.as_str()))
        .collect();
    due.into_iter()
        .zip(keep)
        .filter_map(|(d, k)| k.then_some(d))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeadlineKind::*;

    fn e(at: u64, jid: &str, kind: DeadlineKind) -> (u64, String, DeadlineKind) {
        (at, jid.to_owned(), kind)
    }

    #[test]
    fn keys_sort_by_time_then_jid() {
        let mut ks = [key(300, "a@x.org"), key(2, "z@x.org"), key(256, "b@x.org")];
        ks.sort();
        let parsed: Vec<_> = ks.iter().map(|k| parse_key(k).unwrap()).collect();
        assert_eq!(
            parsed,
            vec![
                (2, "z@x.org".to_owned()),
                (256, "b@x.org".to_owned()),
                (300, "a@x.org".to_owned())
            ]
        );
        assert!(parse_key(&[0; 8]).is_err());
        assert!(parse_key(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff]).is_err());
    }

    #[test]
    fn bound_excludes_the_future() {
        assert!(key(10, "a@x.org").as_slice() < due_bound(10).unwrap().as_slice());
        assert!(key(11, "a@x.org").as_slice() >= due_bound(10).unwrap().as_slice());
        assert_eq!(due_bound(u64::MAX), None);
    }

    #[test]
    fn what_is_due() {
        let entries = vec![
            e(10, "a@x.org", Warn),
            e(12, "b@x.org", Warn),
            e(15, "b@x.org", Expire),
            e(20, "a@x.org", Expire),
            e(25, "c@x.org", Warn),
        ];
        assert!(due_events(entries.clone(), 9).is_empty());
        let at = |t| {
            due_events(entries.clone(), t)
                .into_iter()
                .map(|d| (d.jid, d.kind))
                .collect::<Vec<_>>()
        };
        assert_eq!(at(10), vec![("a@x.org".into(), Warn)]);
        assert_eq!(
            at(14),
            vec![("a@x.org".into(), Warn), ("b@x.org".into(), Warn)]
        );
        // b's expiry is due: its warning is dropped.
        assert_eq!(
            at(15),
            vec![("a@x.org".into(), Warn), ("b@x.org".into(), Expire)]
        );
        assert_eq!(
            at(100),
            vec![
                ("b@x.org".into(), Expire),
                ("a@x.org".into(), Expire),
                ("c@x.org".into(), Warn)
            ]
        );
        // Entries past `now` stop the scan even if later ones were (wrongly) earlier.
        let unsorted = vec![e(50, "a@x.org", Warn), e(1, "b@x.org", Warn)];
        assert!(due_events(unsorted, 10).is_empty());
    }
}
