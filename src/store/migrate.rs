//! Stores of an older schema version, rewritten at open. Version 1 kept the completion code
//! and its attempts in the session beside the lesson's state, which holds them too; version
//! 2 keeps them in the lesson's state only. Every other value is the same but for its
//! version prefix.

use super::codec::{self, SCHEMA_VERSION};
use super::error::{Error, Result};
use super::model::{Attempts, Deadlines, LtiBinding, SecretBytes, Session, StoredSession};
use super::trees::{self, SESSIONS};
use serde::{Deserialize, Serialize};

/// A session as version 1 stored it.
#[derive(Serialize, Deserialize)]
struct SessionV1 {
    stage: String,
    lesson_state: Vec<u8>,
    locale: String,
    created_at: u64,
    last_activity: u64,
    shared_secret: Option<SecretBytes>,
    completion_code: Option<String>,
    attempts: AttemptsV1,
    lti: Option<LtiBinding>,
}

/// Version 1's attempt counters.
#[derive(Serialize, Deserialize)]
struct AttemptsV1 {
    completion_code: u32,
    smp: u32,
    secret: u32,
}

/// Version 1's stored session.
#[derive(Serialize, Deserialize)]
struct StoredSessionV1 {
    session: SessionV1,
    deadlines: Deadlines,
}

impl From<StoredSessionV1> for StoredSession {
    fn from(v: StoredSessionV1) -> Self {
        let s = v.session;
        StoredSession {
            session: Session {
                stage: s.stage,
                lesson_state: s.lesson_state,
                locale: s.locale,
                created_at: s.created_at,
                last_activity: s.last_activity,
                shared_secret: s.shared_secret,
                attempts: Attempts {
                    smp: s.attempts.smp,
                    secret: s.attempts.secret,
                },
                lti: s.lti,
            },
            deadlines: v.deadlines,
        }
    }
}

/// The version prefix of a stored value and where its payload starts; `None` for values
/// without one (index trees store empty values).
fn version_of(bytes: &[u8]) -> Option<(u32, usize)> {
    if bytes.is_empty() {
        return None;
    }
    bincode::serde::decode_from_slice::<u32, _>(bytes, codec::config()).ok()
}

/// One value of `tree` rewritten from version 1; `None` when it needs nothing (already
/// version 2 after an interrupted migration, or no version prefix).
fn rewrite(tree: &'static str, bytes: &[u8]) -> Result<Option<Vec<u8>>> {
    let Some((version, used)) = version_of(bytes) else {
        return Ok(None);
    };
    match version {
        v if v == SCHEMA_VERSION => Ok(None),
        1 => {
            let payload = &bytes[used..];
            if tree == SESSIONS {
                let (old, _): (StoredSessionV1, usize) =
                    bincode::serde::decode_from_slice(payload, codec::config()).map_err(|e| {
                        Error::Decode {
                            tree,
                            reason: e.to_string(),
                        }
                    })?;
                Ok(Some(codec::encode(&StoredSession::from(old))?.to_vec()))
            } else {
                let mut out = bincode::serde::encode_to_vec(SCHEMA_VERSION, codec::config())
                    .map_err(|e| Error::Encode(e.to_string()))?;
                out.extend_from_slice(payload);
                Ok(Some(out))
            }
        }
        found => Err(Error::SchemaMismatch {
            found,
            expected: SCHEMA_VERSION,
        }),
    }
}

/// Rewrites a version 1 store as version 2; safe to run again after an interruption (the
/// version in the meta tree changes last).
pub(crate) fn from_v1(db: &sled::Db) -> Result<()> {
    for name in trees::DATA_TREES {
        let tree = db.open_tree(name)?;
        let mut batch = sled::Batch::default();
        for kv in tree.iter() {
            let (k, v) = kv?;
            if let Some(new) = rewrite(name, &v)? {
                batch.insert(k, new);
            }
        }
        tree.apply_batch(batch)?;
    }
    db.flush()?;
    db.open_tree(trees::META)?
        .insert(trees::SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
    db.flush()?;
    tracing::info!("store migrated from schema version 1 to {SCHEMA_VERSION}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, Timeouts};

    fn v1<T: Serialize>(value: &T) -> Vec<u8> {
        bincode::serde::encode_to_vec((1u32, value), codec::config()).unwrap()
    }

    #[test]
    fn a_version_1_store_opens_with_its_sessions() {
        let d = tempfile::tempdir().unwrap();
        {
            let db = sled::open(crate::store::db_path(d.path())).unwrap();
            db.open_tree(trees::META)
                .unwrap()
                .insert(trees::SCHEMA_KEY, &1u32.to_be_bytes())
                .unwrap();
            let old = StoredSessionV1 {
                session: SessionV1 {
                    stage: "verified".into(),
                    lesson_state: vec![5, 6, 7],
                    locale: "nl_NL".into(),
                    created_at: 10,
                    last_activity: 20,
                    shared_secret: Some(SecretBytes::new(b"purple cow".to_vec())),
                    completion_code: Some("ABCD-EFGH".into()),
                    attempts: AttemptsV1 {
                        completion_code: 2,
                        smp: 1,
                        secret: 3,
                    },
                    lti: None,
                },
                deadlines: Deadlines::after_activity(
                    20,
                    Timeouts {
                        warning: 5,
                        session: 10,
                    },
                ),
            };
            db.open_tree(SESSIONS)
                .unwrap()
                .insert("a@example.org", v1(&old))
                .unwrap();
            db.open_tree(trees::WHITELIST)
                .unwrap()
                .insert(
                    "a@example.org",
                    v1(&crate::store::WhitelistEntry {
                        locale: "nl_NL".into(),
                        source: crate::store::WhitelistSource::Lti,
                        added_at: 10,
                    }),
                )
                .unwrap();
            db.open_tree(trees::LTI_NONCE_EXPIRY)
                .unwrap()
                .insert([0u8; 9], &[])
                .unwrap();
            db.flush().unwrap();
        }
        let s = Store::open(d.path()).unwrap();
        let rec = s.session("a@example.org").unwrap().unwrap();
        assert_eq!(rec.session.lesson_state, [5, 6, 7]);
        assert_eq!(rec.session.attempts, Attempts { smp: 1, secret: 3 });
        assert_eq!(rec.session.locale, "nl_NL");
        assert_eq!(
            rec.session.shared_secret.unwrap().expose(),
            b"purple cow".as_slice()
        );
        assert_eq!(
            s.whitelist_get("a@example.org").unwrap().unwrap().added_at,
            10
        );
        drop(s);
        // Opening again finds version 2 and changes nothing.
        let s = Store::open(d.path()).unwrap();
        assert!(s.session("a@example.org").unwrap().is_some());
    }
}
