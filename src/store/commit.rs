//! One lesson step's changes to the store, written in one transaction: the lesson's new
//! state, the shared secret it stored or voided, the grade it posted, the activity it saw.
//! A crash leaves either all of them or none.

use super::error::{from_tx, Error, Result};
use super::model::{Deadlines, GradeRequest, SecretBytes, StoredSession, Timeouts};
use super::trees::{SESSIONS, STAGE_TIMES};
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
    /// When the step happened (Unix seconds): a new stage is recorded as entered then.
    pub at: u64,
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

/// The most stages recorded per session (the lessons have fewer than a dozen).
const MAX_STAGE_TIMES: usize = 32;

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
        let rec = (
            &self.t.sessions,
            &self.t.deadlines,
            &self.t.outbox,
            &self.t.stage_times,
        )
            .transaction(|(s, dl, o, times)| {
                let Some(v) = s.get(jid.as_bytes())? else {
                    return abort(Error::NoSession(jid.to_owned()));
                };
                let mut rec: StoredSession = dec(SESSIONS, &v)?;
                let before = rec.deadlines;
                if let Some((_, name)) = c.state.as_ref().filter(|(_, n)| *n != rec.session.stage) {
                    let mut seen: Vec<(String, u64)> = match times.get(jid.as_bytes())? {
                        Some(v) => dec(STAGE_TIMES, &v)?,
                        None => Vec::new(),
                    };
                    if !seen.iter().any(|(n, _)| n == name) && seen.len() < MAX_STAGE_TIMES {
                        seen.push((name.clone(), c.at));
                        times.insert(jid.as_bytes(), enc(&seen)?.as_slice())?;
                    }
                }
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

    /// The stages the session of `jid` entered after its first, each with when it first did.
    pub fn stage_times(&self, jid: &str) -> Result<Vec<(String, u64)>> {
        match self.t.stage_times.get(jid.as_bytes())? {
            Some(v) => codec::decode(STAGE_TIMES, &v),
            None => Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Session;

    #[test]
    fn each_new_stage_is_recorded_once_with_its_time_and_goes_with_the_session() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let t = Timeouts {
            warning: 100,
            session: 200,
        };
        s.create_session_without_key("a@x", &Session::new("waiting", "en", 10), t)
            .unwrap();
        let step = |name: &str, at| {
            let c = LessonCommit {
                state: Some((vec![1], name.to_owned())),
                at,
                ..LessonCommit::default()
            };
            s.commit_lesson("a@x", &c).unwrap();
        };
        step("waiting", 11);
        assert_eq!(
            s.stage_times("a@x").unwrap(),
            [],
            "the first stage is not new"
        );
        step("plaintext", 20);
        step("plaintext", 25);
        step("encrypted", 40);
        step("plaintext", 50);
        step("encrypted", 60);
        assert_eq!(
            s.stage_times("a@x").unwrap(),
            [("plaintext".to_owned(), 20), ("encrypted".to_owned(), 40)],
            "first entries only"
        );
        s.remove_session("a@x").unwrap();
        assert_eq!(s.stage_times("a@x").unwrap(), []);
    }
}
