//! The bot's side of [`crate::lti::Course`]: what the course pages tell the bot and ask of
//! the lesson. The lesson owns every decision about what a learner entered there (a shared
//! secret, a completion code): the page sends the entry, the learner's turn runs it under
//! the learner's lock, writes what it decided in one transaction, tells the chat, and
//! answers the page here. Sessions the pages start or end are the bot's too: it whitelists,
//! takes a key from the pool, and tells the roster through its own admin events.

use super::admin::{self, AdminEvent};
use super::teach::{stage_of, Teacher, TurnError};
use crate::lesson::{self, Action, LessonError, Protocol, Stage};
use crate::lti::course::{same_activity, same_learner, Course, CourseError, Ended, Reset, Started};
use crate::lti::{CodeVerdict, SecretVerdict};
use crate::store::{
    self, GradeNote, KeyPool, LtiBinding, Session, Store, Timeouts, WhitelistSource,
};
use std::sync::Arc;
use tokio::sync::mpsc;

impl Teacher {
    /// The learner entered a completion code on the course page.
    pub async fn code_entered(&self, jid: &str, code: &str) -> Result<CodeVerdict, TurnError> {
        let ev = lesson::Event::CompletionCodeEntered {
            code: code.to_owned(),
        };
        let Some((first, turn)) = self.decide(jid, ev).await? else {
            return Ok(CodeVerdict::NoSession);
        };
        Ok(match first {
            Ok(actions) => {
                let refused = actions.iter().find_map(|a| match a {
                    Action::RefuseCode { attempts_left } => Some(*attempts_left),
                    _ => None,
                });
                match refused {
                    Some(0) => CodeVerdict::Voided,
                    Some(n) => CodeVerdict::Refused { attempts_left: n },
                    None if actions.contains(&Action::AcceptCode) => {
                        CodeVerdict::Accepted(turn.grade.unwrap_or(GradeNote::NoOutcomeService))
                    }
                    None => CodeVerdict::NotYet,
                }
            }
            Err(LessonError::AlreadyCompleted) => CodeVerdict::AlreadyDone,
            Err(LessonError::SessionOver) => CodeVerdict::NoSession,
            Err(_) => CodeVerdict::NotYet,
        })
    }

    /// The learner chose a shared secret on the course page.
    pub async fn secret_entered(
        &self,
        jid: &str,
        secret: &str,
    ) -> Result<SecretVerdict, TurnError> {
        let ev = lesson::Event::SecretReceived {
            secret: secret.to_owned(),
        };
        let Some((first, _)) = self.decide(jid, ev).await? else {
            return Ok(SecretVerdict::NoSession);
        };
        Ok(match first {
            Ok(actions) => actions
                .iter()
                .find_map(|a| match a {
                    Action::RefuseSecret(w) => Some(SecretVerdict::Refused(*w)),
                    _ => None,
                })
                .unwrap_or(SecretVerdict::Stored),
            Err(LessonError::SessionOver) => SecretVerdict::NoSession,
            Err(_) => SecretVerdict::AlreadyVerified,
        })
    }
}

/// What the course page shows of a session's lesson: its stage, derived from the lesson's
/// own state (the only place the code and its attempts are kept).
pub fn lesson_stage(session: &Session) -> Option<Stage> {
    stage_of(session).ok()
}

/// The bot as the course pages see it ([`Course`]): the lesson, the store and key pool for
/// sessions, and the channel of admin events the bot's main loop turns into roster changes.
pub struct CoursePages {
    /// The lesson, which decides on what learners enter on the pages.
    pub teacher: Teacher,
    /// The store.
    pub store: Store,
    /// The key pool, for new sessions.
    pub pool: Arc<KeyPool>,
    /// The inactivity timeouts of new sessions.
    pub timeouts: Timeouts,
    /// Where changes go to the bot's main loop (as the admin socket's do).
    pub events: mpsc::Sender<AdminEvent>,
    /// The lesson of launches that choose none (`lesson.protocol`).
    pub protocol: Protocol,
}

fn task_err(e: tokio::task::JoinError) -> CourseError {
    CourseError(format!("task: {e}"))
}

fn store_err(e: store::Error) -> CourseError {
    CourseError(format!("store: {e}"))
}

/// A new session of `protocol`'s lesson for the learner of `launch`, starting at `now`.
fn fresh_session(
    launch: &LtiBinding,
    locale: &str,
    protocol: Protocol,
    now: u64,
) -> Result<Session, CourseError> {
    let mut session = Session::new("started", locale.to_owned(), now);
    session.lti = Some(launch.clone());
    if protocol == Protocol::Omemo {
        // The OTR lesson's start is an empty state (the stage is made at the first turn).
        let stage = Stage::start_with(protocol, false);
        session.stage = stage.name().to_owned();
        session.lesson_state = bincode::serde::encode_to_vec(&stage, bincode::config::standard())
            .map_err(|e| CourseError(format!("lesson state: {e}")))?;
    }
    Ok(session)
}

impl CoursePages {
    /// Stores `session` for `jid`: with a key from the pool for OTR (waiting for one), without
    /// for OMEMO, whose lesson never waits for the pool.
    async fn create(
        &self,
        jid: &str,
        session: Session,
        protocol: Protocol,
    ) -> Result<store::Result<store::StoredSession>, CourseError> {
        Ok(match protocol {
            Protocol::Otr => self.pool.create_session(jid, &session, self.timeouts).await,
            Protocol::Omemo => {
                let (s, j, t) = (self.store.clone(), jid.to_owned(), self.timeouts);
                tokio::task::spawn_blocking(move || s.create_session_without_key(&j, &session, t))
                    .await
                    .map_err(task_err)?
            }
        })
    }

    /// Tells the main loop about a change (logged if it no longer listens).
    async fn event(&self, ev: AdminEvent) {
        if let Err(e) = self.events.send(ev).await {
            tracing::warn!(event = ?e.0, "the bot is not listening for LTI changes");
        }
    }
}

#[rocket::async_trait]
impl Course for CoursePages {
    async fn start_session(
        &self,
        jid: &str,
        launch: &LtiBinding,
        locale: &str,
        protocol: Option<Protocol>,
    ) -> Result<Started, CourseError> {
        let now = crate::clock::unix_now();
        let (s, j, l) = (self.store.clone(), jid.to_owned(), locale.to_owned());
        let (reply, ev) = tokio::task::spawn_blocking(move || {
            admin::whitelist_add(&s, &j, &l, WhitelistSource::Lti, now)
        })
        .await
        .map_err(task_err)?;
        if let admin::Response::Error { message, .. } = &reply {
            return Err(CourseError(format!("whitelist: {message}")));
        }
        let protocol = protocol.unwrap_or(self.protocol);
        let session = fresh_session(launch, locale, protocol, now)?;
        let created = self.create(jid, session, protocol).await?;
        match created {
            Ok(_) => {}
            // Another launch took this JID a moment ago.
            Err(store::Error::SessionExists(_)) => return Ok(Started::InUse),
            Err(e) => {
                // No session, so no whitelist entry that this launch just made either.
                if ev.is_some() {
                    let (s, j) = (self.store.clone(), jid.to_owned());
                    let undone = tokio::task::spawn_blocking(move || s.whitelist_remove(&j)).await;
                    if !matches!(undone, Ok(Ok(_))) {
                        tracing::error!(%jid, result = ?undone, "cannot undo the whitelist entry");
                    }
                }
                return Err(store_err(e));
            }
        }
        if let Some(ev) = ev {
            self.event(ev).await;
        }
        self.event(AdminEvent::SessionStarted {
            jid: jid.to_owned(),
        })
        .await;
        Ok(Started::Started)
    }

    async fn end_session(&self, jid: &str, launch: &LtiBinding) -> Result<Ended, CourseError> {
        let (s, j, lti) = (self.store.clone(), jid.to_owned(), launch.clone());
        let (ended, still_listed) = tokio::task::spawn_blocking(move || {
            let ours = s
                .session(&j)?
                .and_then(|r| r.session.lti)
                .is_some_and(|b| same_learner(&b, &lti));
            let ended = ours && s.remove_session(&j)?.is_some();
            Ok::<_, store::Error>((ended, s.whitelist_get(&j)?.is_some()))
        })
        .await
        .map_err(task_err)?
        .map_err(store_err)?;
        if !ended {
            return Ok(Ended::NotTheirs);
        }
        self.event(AdminEvent::SessionKilled {
            jid: jid.to_owned(),
        })
        .await;
        if !still_listed {
            self.event(AdminEvent::WhitelistRemoved {
                jid: jid.to_owned(),
            })
            .await;
        }
        Ok(Ended::Ended)
    }

    async fn reset_session(&self, jid: &str, class: &LtiBinding) -> Result<Reset, CourseError> {
        // Under the learner's lock: no turn of the old session may write into the new one.
        let lock = self.teacher.lock_for(jid);
        let _turn = lock.lock().await;
        let (s, j) = (self.store.clone(), jid.to_owned());
        let old = tokio::task::spawn_blocking(move || s.session(&j))
            .await
            .map_err(task_err)?
            .map_err(store_err)?
            .map(|r| r.session)
            .filter(|old| old.lti.as_ref().is_some_and(|b| same_activity(b, class)));
        let Some(old) = old else {
            return Ok(Reset::NotInClass);
        };
        // The lesson tells the learner and ends OTR, so their client shows the private
        // conversation ended instead of writing into a session the bot no longer has.
        if let Err(e) = self.teacher.event_turn(jid, lesson::Event::Reset).await {
            tracing::warn!(%jid, error = %e, "the learner could not be told of the reset");
        }
        let (s, j) = (self.store.clone(), jid.to_owned());
        tokio::task::spawn_blocking(move || s.remove_session(&j))
            .await
            .map_err(task_err)?
            .map_err(store_err)?;
        self.event(AdminEvent::SessionKilled {
            jid: jid.to_owned(),
        })
        .await;
        let protocol = lesson_stage(&old).map_or(self.protocol, |st| st.protocol());
        let launch = old.lti.clone().unwrap_or_default();
        let now = crate::clock::unix_now();
        let (s, j, l) = (self.store.clone(), jid.to_owned(), old.locale.clone());
        // The session's end took the launch's whitelist entry with it; the roster entry stays.
        let (reply, _) = tokio::task::spawn_blocking(move || {
            admin::whitelist_add(&s, &j, &l, WhitelistSource::Lti, now)
        })
        .await
        .map_err(task_err)?;
        if let admin::Response::Error { message, .. } = &reply {
            return Err(CourseError(format!("whitelist: {message}")));
        }
        let session = fresh_session(&launch, &old.locale, protocol, now)?;
        self.create(jid, session, protocol)
            .await?
            .map_err(store_err)?;
        tracing::info!(%jid, "a teacher reset the learner's session");
        Ok(Reset::Reset)
    }

    async fn secret_entered(&self, jid: &str, secret: &str) -> Result<SecretVerdict, CourseError> {
        self.teacher
            .secret_entered(jid, secret)
            .await
            .map_err(|e| CourseError(format!("lesson: {e}")))
    }

    async fn code_entered(&self, jid: &str, code: &str) -> Result<CodeVerdict, CourseError> {
        self.teacher
            .code_entered(jid, code)
            .await
            .map_err(|e| CourseError(format!("lesson: {e}")))
    }

    fn stage(&self, session: &Session) -> Option<Stage> {
        lesson_stage(session)
    }

    fn omemo_device(&self) -> (u32, String) {
        let d = self.teacher.omemo();
        (d.true_id(), d.true_fingerprint().hex())
    }

    fn default_protocol(&self) -> Protocol {
        self.protocol
    }
}
