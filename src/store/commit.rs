//! One lesson step's changes to the store, written in one transaction: the lesson's new
//! state, the shared secret it stored or voided, the grade it posted, the activity it saw.
//! A crash leaves either all of them or none.

use super::error::{from_tx, Error, Result};
use super::model::{Deadlines, GradeRequest, SecretBytes, StoredSession, Timeouts};
use super::trees::SESSIONS;
use super::{abort, codec, dec, enc, sessions, Store};
use sled::Transactional;

/// What one lesson step changes.
#[derive(Debug, Default)]
pub struct LessonCommit {
    /// The lesson's new state (encoded) and the name of its stage.
    pub state: Option<(Vec<u8>, String)>,
    /// The shared secret: `Some(Some(_))` stores one, `Some(None)` voids it.
    pub secret: Option<Option<SecretBytes>>,
    /// Count one more shared secret set on the course page.
    pub secret_set_on_page: bool,
    /// A grade for the outbox (replacing one queued for the same result).
    pub grade: Option<GradeRequest>,
    /// The learner was active at this time: the deadlines move.
    pub touch: Option<(u64, Timeouts)>,
}

impl LessonCommit {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.state.is_none()
            && self.secret.is_none()
            && !self.secret_set_on_page
            && self.grade.is_none()
            && self.touch.is_none()
    }

    /// Applies the session's part (not the grade) to `rec`: the one place that says what a
    /// commit changes, for the store's transaction and for in-memory stores alike.
    pub fn apply(&self, rec: &mut StoredSession) {
        if let Some((state, name)) = &self.state {
            rec.session.lesson_state = state.clone();
            rec.session.stage = name.clone();
        }
        if let Some(secret) = &self.secret {
            rec.session.shared_secret = secret.clone();
        }
        if self.secret_set_on_page {
            rec.session.attempts.secret = rec.session.attempts.secret.saturating_add(1);
        }
        if let Some((now, t)) = self.touch {
            rec.session.last_activity = now;
            rec.deadlines = Deadlines::after_activity(now, t);
        }
    }
}

impl Store {
    /// Writes `c` for the session of `jid` in one transaction, durable before it returns;
    /// returns the session as written and the outbox id of the grade, if one was queued.
    pub fn commit_lesson(
        &self,
        jid: &str,
        c: &LessonCommit,
    ) -> Result<(StoredSession, Option<u64>)> {
        self.write_gate()?;
        let same = c
            .grade
            .as_ref()
            .map(|g| self.grades_of_same_result(g))
            .unwrap_or_default();
        let grade = match &c.grade {
            Some(g) => Some((self.db.generate_id()?, codec::encode(g)?)),
            None => None,
        };
        let rec = (&self.t.sessions, &self.t.deadlines, &self.t.outbox)
            .transaction(|(s, dl, o)| {
                let Some(v) = s.get(jid.as_bytes())? else {
                    return abort(Error::NoSession(jid.to_owned()));
                };
                let mut rec: StoredSession = dec(SESSIONS, &v)?;
                let before = rec.deadlines;
                c.apply(&mut rec);
                if c.touch.is_some() {
                    sessions::drop_deadlines(dl, jid, &before)?;
                    sessions::put_deadlines(dl, jid, &rec.deadlines)?;
                }
                s.insert(jid.as_bytes(), enc(&rec)?.as_slice())?;
                if let Some((id, value)) = &grade {
                    for k in &same {
                        o.remove(k)?;
                    }
                    o.insert(&id.to_be_bytes(), value.as_slice())?;
                    o.flush();
                }
                self.durable(s);
                Ok(rec)
            })
            .map_err(from_tx)?;
        Ok((rec, grade.map(|(id, _)| id)))
    }
}
