//! One learner's turn: its state loaded (or the session created), each lesson event decided
//! and committed in one transaction, then carried out.

use super::act::otr_blocking;
use super::{Teacher, TurnError};
use crate::bot::omemo_state::OmemoChannel;
use crate::bot::otr_state::OtrState;
use crate::lesson::{self, step, Action, Env, LessonError, Protocol, Stage};
use crate::store::{self, GradeNote, GradeRequest, LessonCommit, SecretBytes, Session};
use std::collections::VecDeque;
use tokio_xmpp::jid::Jid;

/// One learner's state during a turn.
pub(in crate::bot) struct Turn {
    pub(in crate::bot) jid: String,
    pub(super) to: Jid,
    pub(super) session: Session,
    pub(in crate::bot) stage: Stage,
    /// The OTR state, read from the store when the turn first needs it (a course-page event
    /// that says nothing needs none).
    pub(super) otr: Option<OtrState>,
    /// The encoded OTR state as the store holds it (read or last written this turn), so that
    /// an unchanged state is recognised without reading the store again.
    pub(super) otr_stored: Option<SecretBytes>,
    /// What became of the grade this turn posted.
    pub(in crate::bot) grade: Option<GradeNote>,
    /// The length in characters of this turn's last reply, once one was sent.
    pub(super) last_reply: Option<usize>,
    /// A status text to leave the learner once the roster entry is gone.
    pub(super) farewell: Option<String>,
    /// The session's lesson, as loaded (an ended stage no longer says).
    pub(super) protocol: Protocol,
    /// The OMEMO state (OMEMO lesson), read from the store when the turn first needs it.
    pub(super) omemo: Option<OmemoChannel>,
}

impl Turn {
    fn new(jid: &str, to: Jid, session: Session, stage: Stage, otr: Option<OtrState>) -> Turn {
        Turn {
            protocol: stage.protocol(),
            omemo: None,
            jid: jid.to_owned(),
            to,
            session,
            stage,
            otr,
            otr_stored: None,
            grade: None,
            last_reply: None,
            farewell: None,
        }
    }
}

impl Teacher {
    /// Runs `ev` for `jid` under the learner's lock: the lesson's first decision (its
    /// actions, or why the event was impossible), or `None` without a session.
    pub(in crate::bot) async fn decide(
        &self,
        jid: &str,
        ev: lesson::Event,
    ) -> Result<Option<(Result<Vec<Action>, LessonError>, Turn)>, TurnError> {
        let lock = self.lock_for(jid);
        let _guard = lock.lock().await;
        let Some(mut turn) = self.load_bare(jid).await? else {
            return Ok(None);
        };
        let first = self.step_commit(&mut turn, &ev)?;
        // The decision is on the disk; the chat hears of it as well as it can.
        if let Ok(actions) = &first {
            let mut queue = VecDeque::new();
            let said = self.act_all(&mut turn, actions, &mut queue).await;
            let followed = match said {
                Ok(()) => self.run_lesson(&mut turn, &mut queue).await.map(drop),
                Err(e) => Err(e),
            };
            if let Err(e) = followed {
                tracing::error!(%jid, error = %e, "the chat could not be told of a course-page decision");
            }
        }
        Ok(Some((first, turn)))
    }

    /// Runs one lesson event for `jid` (the caller holds the learner's lock).
    pub(in crate::bot) async fn event_turn(
        &self,
        jid: &str,
        ev: lesson::Event,
    ) -> Result<(), TurnError> {
        if let Some(mut turn) = self.load_bare(jid).await? {
            self.run_lesson(&mut turn, &mut VecDeque::from([ev]))
                .await?;
        }
        Ok(())
    }

    /// The OTR channel's timer (quinn's handle_timeout): a stale AKE or partial message is
    /// forgotten, its state saved, and the next timer set.
    pub(super) async fn timer_turn(&self, jid: &str, now: u64) -> Result<(), TurnError> {
        let Some(mut turn) = self.load_bare(jid).await? else {
            return Ok(());
        };
        self.ensure_otr(&mut turn)?;
        // Forgetting is cheap (no arithmetic): no trip to the blocking pool; nothing is sent
        // and the lesson hears nothing.
        if let Some(otr) = turn.otr.as_mut() {
            otr.channel.handle_timeout(now);
        }
        self.apply_otr(
            &mut turn,
            crate::otr::Output::default(),
            &mut VecDeque::new(),
        )
        .await
    }

    pub(super) async fn chat_turn(
        &self,
        jid: &str,
        from: Jid,
        body: String,
    ) -> Result<(), TurnError> {
        let mut turn = match self.load(jid, from.clone()).await? {
            Some(t) => t,
            None => self.create(jid, from.clone()).await?,
        };
        turn.to = from;
        if turn.protocol == Protocol::Omemo {
            // No OTR in the OMEMO lesson: plain text is plain text (an OTR query too).
            let ev = lesson::Event::MessageReceived {
                text: body,
                encrypted: false,
            };
            self.ensure_omemo(&mut turn)?;
            self.run_lesson(&mut turn, &mut VecDeque::from([ev]))
                .await?;
            return Ok(());
        }
        let now = self.parts.clock.now();
        self.ensure_otr(&mut turn)?;
        // OTR's timer: an AKE or a fragmented message left unfinished for a minute is forgotten
        // (its DH secret with it) when the scanner finds its timer due (`timer_turn`), and
        // here before the next message is read, should that come first.
        let out = otr_blocking(&mut turn, move |c, a| {
            c.handle_timeout(now);
            c.read(a, &body, now)
        })
        .await?;
        let mut queue = VecDeque::new();
        self.apply_otr(&mut turn, out, &mut queue).await?;
        self.run_lesson(&mut turn, &mut queue).await?;
        Ok(())
    }

    pub(super) async fn run_lesson(
        &self,
        turn: &mut Turn,
        queue: &mut VecDeque<lesson::Event>,
    ) -> Result<Vec<Action>, TurnError> {
        let mut all = Vec::new();
        while let Some(ev) = queue.pop_front() {
            match self.step_and_act(turn, &ev, queue).await? {
                Ok(actions) => all.extend(actions),
                Err(e) => tracing::debug!(jid = %turn.jid, error = %e, "lesson ignores event"),
            }
        }
        self.farewell(turn).await;
        Ok(all)
    }

    /// One event and its chat: see [`step_commit`](Self::step_commit).
    async fn step_and_act(
        &self,
        turn: &mut Turn,
        ev: &lesson::Event,
        queue: &mut VecDeque<lesson::Event>,
    ) -> Result<Result<Vec<Action>, LessonError>, TurnError> {
        let decided = self.step_commit(turn, ev)?;
        if let Ok(actions) = &decided {
            self.act_all(turn, actions, queue).await?;
        }
        Ok(decided)
    }

    /// One event: the lesson decides, and what it decided for the store is written in one
    /// transaction ([`Store::commit_lesson`]) before anything of it is said.
    fn step_commit(
        &self,
        turn: &mut Turn,
        ev: &lesson::Event,
    ) -> Result<Result<Vec<Action>, LessonError>, TurnError> {
        let mut random = [0u8; lesson::secret::CODE_BYTES];
        getrandom::fill(&mut random).map_err(|e| TurnError::Task(e.to_string()))?;
        let env = Env {
            may_start_smp: self.cfg.may_start_smp,
            has_help_url: self
                .cfg
                .globals
                .iter()
                .any(|(k, v)| k == "help_url" && !v.is_empty()),
            random,
            omemo_fingerprints: match turn.protocol {
                Protocol::Omemo => self.parts.omemo.fingerprints().to_vec(),
                Protocol::Otr => Vec::new(),
            },
            ..Env::default()
        };
        let (stage, actions) = match step(&turn.stage, ev, &env) {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        turn.stage = stage;
        self.commit(turn, &actions)?;
        Ok(Ok(actions))
    }

    /// Carries out the chat side of `actions`, in order.
    async fn act_all(
        &self,
        turn: &mut Turn,
        actions: &[Action],
        queue: &mut VecDeque<lesson::Event>,
    ) -> Result<(), TurnError> {
        for a in actions {
            self.act(turn, a, queue).await?;
        }
        Ok(())
    }

    /// Writes the lesson's new stage and every store change its actions ask for, at once.
    fn commit(&self, turn: &mut Turn, actions: &[Action]) -> Result<(), TurnError> {
        let now = self.parts.clock.now();
        let mut c = LessonCommit {
            at: now,
            ..LessonCommit::default()
        };
        if !turn.stage.is_over() {
            let bytes = bincode::serde::encode_to_vec(&turn.stage, bincode::config::standard())
                .map_err(|e| TurnError::Lesson(e.to_string()))?;
            c.state = Some((bytes, turn.stage.name().to_owned()));
        }
        for a in actions {
            match a {
                Action::StoreSecret(s) => {
                    c.secret = Some(Some(SecretBytes::new(s.as_bytes().to_vec())));
                    c.secret_set_on_page = true;
                }
                Action::VoidSecret => c.secret = Some(None),
                Action::ResetTimers => c.touch = Some((now, self.cfg.timeouts)),
                Action::PostGrade(score) => {
                    let (grade, note) = grade_for(&turn.session, *score, now);
                    c.grade = grade;
                    turn.grade = Some(note);
                }
                _ => {}
            }
        }
        if c.is_empty() {
            return Ok(());
        }
        match self.parts.sessions.commit_lesson(&turn.jid, &c) {
            Ok(rec) => {
                turn.session = rec.session;
                Ok(())
            }
            // Ended meanwhile (an operator's kill): nothing left to keep.
            Err(store::Error::NoSession(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// [`load`](Self::load) for a turn without a stanza: replies go to the bare JID.
    pub(super) async fn load_bare(&self, jid: &str) -> Result<Option<Turn>, TurnError> {
        let to: Jid = jid
            .parse()
            .map_err(|e| TurnError::Lesson(format!("{jid}: {e}")))?;
        self.load(jid, to).await
    }

    pub(super) async fn load(&self, jid: &str, to: Jid) -> Result<Option<Turn>, TurnError> {
        let Some(stored) = self.parts.sessions.session(jid)? else {
            return Ok(None);
        };
        let session = stored.session;
        let stage = stage_of(&session)?;
        Ok(Some(Turn::new(jid, to, session, stage, None)))
    }

    /// Reads the turn's OTR state (or makes it from the session's pool key) if not yet read.
    pub(super) fn ensure_otr(&self, turn: &mut Turn) -> Result<(), TurnError> {
        if turn.otr.is_none() {
            let stored = self.parts.channels.channel_state(&turn.jid)?;
            turn.otr = Some(match &stored {
                Some(b) => OtrState::decode(b.expose())?,
                None => self.fresh_otr(&turn.jid)?,
            });
            turn.otr_stored = stored;
        }
        Ok(())
    }

    /// OTR state with the session's own key from the pool, before any conversation.
    fn fresh_otr(&self, jid: &str) -> Result<OtrState, TurnError> {
        let key = self
            .parts
            .keys
            .otr_key(jid)?
            .ok_or_else(|| store::Error::NoSession(jid.to_owned()))?;
        Ok(OtrState::from_pool_key(&self.cfg.bot_jid, key.expose())?)
    }

    pub(super) async fn create(&self, jid: &str, to: Jid) -> Result<Turn, TurnError> {
        let now = self.parts.clock.now();
        let locale = match self.parts.sessions.whitelist_get(jid)? {
            Some(w) => w.locale,
            None => self.cfg.default_locale.clone(),
        };
        let secret = self.cfg.default_secret.clone();
        let stage = Stage::start_with(self.cfg.protocol, secret.is_some());
        let mut session = Session::new(stage.name(), locale, now);
        session.lesson_state = bincode::serde::encode_to_vec(&stage, bincode::config::standard())
            .map_err(|e| TurnError::Lesson(e.to_string()))?;
        session.shared_secret = secret.map(|s| SecretBytes::new(s.into_bytes()));
        self.parts
            .keys
            .create_session(
                jid,
                &session,
                self.cfg.timeouts,
                stage.protocol() == Protocol::Otr,
            )
            .await?;
        let otr = match stage.protocol() {
            Protocol::Otr => Some(self.fresh_otr(jid)?),
            Protocol::Omemo => None,
        };
        tracing::info!(%jid, lesson = stage.protocol().name(), "session started");
        Ok(Turn::new(jid, to, session, stage, otr))
    }
}

/// The grade a lesson's `PostGrade` puts in the outbox, and what became of it: none for a
/// launch by someone who teaches the course, or without an outcome service.
fn grade_for(session: &Session, score: f64, now: u64) -> (Option<GradeRequest>, GradeNote) {
    let Some(lti) = &session.lti else {
        return (None, GradeNote::NoOutcomeService);
    };
    if crate::lti::launch::is_staff(&lti.roles) {
        return (None, GradeNote::Staff);
    }
    let (Some(url), Some(sourcedid)) = (&lti.outcome_service_url, &lti.result_sourcedid) else {
        return (None, GradeNote::NoOutcomeService);
    };
    let g = GradeRequest {
        url: url.clone(),
        sourcedid: sourcedid.clone(),
        score,
        consumer_key: lti.consumer_key.clone(),
        attempts: 0,
        next_try: now,
        last_error: None,
    };
    (Some(g), GradeNote::Queued)
}

/// The learner's lesson stage; a session the course page started and the lesson has not seen
/// yet (no stage stored) is at the start.
pub fn stage_of(session: &Session) -> Result<Stage, TurnError> {
    if session.lesson_state.is_empty() {
        return Ok(Stage::start(session.shared_secret.is_some()));
    }
    bincode::serde::decode_from_slice(&session.lesson_state, bincode::config::standard())
        .map(|(s, _)| s)
        .map_err(|e| TurnError::Lesson(e.to_string()))
}
