//! The teaching loop for one learner's turn: a chat stanza goes through OTR, what OTR reports
//! goes to the lesson, and the lesson's actions become OTR writes, store updates and stanzas.
//! The OTR state is persisted before any message made from it is sent.

use super::learner::{meaning, Meaning, OtrState};
use super::roster;
use super::turns::{self, Ticket, TurnLocks};
use crate::i18n::Catalogs;
use crate::lesson::{self, render, step, Action, Env, LessonError, Stage};
use crate::otr::{Account, Channel};
use crate::settings::Settings;
use crate::store::{
    self, GradeNote, GradeRequest, KeyPool, LessonCommit, SecretBytes, Session, Store, Timeouts,
};
use crate::xmpp::conn::Command;
use crate::xmpp::stanza::Outgoing;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::parsers::chatstates::ChatState;

/// Why a turn could not be taken (logged; the learner's stored state is left as it was).
#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] store::Error),
    /// The OTR state could not be made or read.
    #[error("{0}")]
    State(#[from] super::learner::StateError),
    /// The lesson state could not be read or written.
    #[error("lesson state: {0}")]
    Lesson(String),
    /// A blocking task failed.
    #[error("task: {0}")]
    Task(String),
}

/// What the teacher needs from the settings.
#[derive(Debug, Clone)]
pub struct Teaching {
    /// The bot's bare JID (the OTR account name).
    pub bot_jid: String,
    /// Locale for learners without one.
    pub default_locale: String,
    /// A shared secret given to every learner (tests only).
    pub default_secret: Option<String>,
    /// Format strings: project_name, bot_alias, help_url.
    pub globals: Vec<(String, String)>,
    /// Inactivity timeouts.
    pub timeouts: Timeouts,
    /// `may_start_smp`.
    pub may_start_smp: bool,
    /// Typing delay per character, when `scheduled_say` is on.
    pub per_char: Option<Duration>,
}

impl Teaching {
    /// Teaching for `bot_jid` with the settings' defaults and these timeouts (tests, tools).
    pub fn with_defaults(bot_jid: &str, timeouts: Timeouts) -> Teaching {
        Teaching {
            bot_jid: bot_jid.to_owned(),
            default_locale: "en_GB".into(),
            default_secret: None,
            globals: Vec::new(),
            timeouts,
            may_start_smp: false,
            per_char: None,
        }
    }

    /// The teaching parts of the settings.
    pub fn from_settings(s: &Settings) -> Teaching {
        let f = &s.format;
        Teaching {
            bot_jid: s.account().jid.clone(),
            default_locale: s.lesson.default_locale.clone(),
            default_secret: s.lesson.default_secret.clone(),
            globals: vec![
                ("project_name".into(), f.project_name.clone()),
                ("bot_alias".into(), f.bot_alias.clone()),
                ("help_url".into(), f.help_url.clone()),
            ],
            timeouts: super::timeouts(s),
            may_start_smp: s.lesson.may_start_smp,
            per_char: s
                .lesson
                .scheduled_say
                .then(|| Duration::from_secs_f64(1.0 / f64::from(s.lesson.type_speed.max(1)))),
        }
    }
}

/// The longest typing pause before one reply.
const MAX_TYPING: Duration = Duration::from_secs(4);
/// Reading a reply takes this many times less than typing it.
const READING_SPEEDUP: u32 = 4;

/// Runs learners' turns; one learner's turns are serialised, different learners run at once.
#[derive(Clone)]
pub struct Teacher {
    store: Store,
    pool: Arc<KeyPool>,
    catalogs: Arc<Catalogs>,
    cfg: Arc<Teaching>,
    xmpp: mpsc::Sender<Command>,
    locks: TurnLocks,
    inbox: turns::Inbox<(Jid, String)>,
}

/// One learner's state during a turn.
pub(super) struct Turn {
    pub(super) jid: String,
    to: Jid,
    session: Session,
    pub(super) stage: Stage,
    /// The OTR state, read from the store when the turn first needs it (a course-page event
    /// that says nothing needs none).
    otr: Option<OtrState>,
    /// The encoded OTR state as the store holds it (read or last written this turn), so that
    /// an unchanged state is recognised without reading the store again.
    otr_stored: Option<SecretBytes>,
    /// What became of the grade this turn posted.
    pub(super) grade: Option<GradeNote>,
    /// The length in characters of this turn's last reply, once one was sent.
    last_reply: Option<usize>,
    /// A status text to leave the learner once the roster entry is gone.
    farewell: Option<String>,
}

impl Turn {
    fn new(jid: &str, to: Jid, session: Session, stage: Stage, otr: Option<OtrState>) -> Turn {
        Turn {
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

fn unix_now() -> u64 {
    store::scanner::unix_now()
}

impl Teacher {
    /// A teacher over these parts.
    pub fn new(
        store: Store,
        pool: Arc<KeyPool>,
        catalogs: Arc<Catalogs>,
        cfg: Teaching,
        xmpp: mpsc::Sender<Command>,
    ) -> Teacher {
        Teacher {
            store,
            pool,
            catalogs,
            cfg: Arc::new(cfg),
            xmpp,
            locks: TurnLocks::default(),
            inbox: turns::Inbox::default(),
        }
    }

    fn lock_for(&self, jid: &str) -> Ticket {
        self.locks.enter(jid)
    }

    /// How many learners have a turn running or waiting (for tests of the bound).
    pub fn turns_in_flight(&self) -> usize {
        self.locks.len()
    }

    /// A chat message from a learner's client; strangers are ignored (nothing is said).
    /// Takes a chat message in its learner's arrival order (a drainer per learner runs the
    /// turns one after another); call from the task that receives the stanzas.
    pub fn chat_in_order(&self, from: Jid, body: String) {
        let jid = from.to_bare().to_string();
        let bytes = body.len();
        match self
            .inbox
            .push(&jid, (from, body), bytes, turns::INBOX_BOUND)
        {
            turns::Pushed::Start => {
                let t = self.clone();
                tokio::spawn(async move {
                    while let Some((from, body)) = t.inbox.next(&jid) {
                        t.on_chat(from, body).await;
                    }
                });
            }
            turns::Pushed::Queued => {}
            turns::Pushed::Dropped => {
                tracing::info!(%jid, "too many messages waiting from this JID; one dropped")
            }
        }
    }

    /// One chat message's turn (whitelisted learners only).
    pub async fn on_chat(&self, from: Jid, body: String) {
        let jid = from.to_bare().to_string();
        match self.store.whitelist_get(&jid) {
            Ok(Some(_)) => {}
            Ok(None) => {
                tracing::info!(%jid, "message from a JID not on the whitelist ignored");
                return;
            }
            Err(e) => {
                tracing::error!(%jid, error = %e, "cannot read the whitelist");
                return;
            }
        }
        let Some(lock) = self.locks.try_enter(&jid, turns::MAX_WAITING) else {
            tracing::info!(%jid, "too many messages waiting from this learner; one dropped");
            return;
        };
        let _guard = lock.lock().await;
        if let Err(e) = self.chat_turn(&jid, from, body).await {
            tracing::error!(%jid, error = %e, "turn failed; stored state unchanged");
        }
    }

    /// A lesson event from outside the chat (course page, clock) for a learner with a session.
    pub async fn on_event(
        &self,
        jid: &BareJid,
        ev: lesson::Event,
    ) -> Result<Vec<Action>, TurnError> {
        let to = Jid::from(jid.clone());
        let jid = jid.to_string();
        let lock = self.lock_for(&jid);
        let _guard = lock.lock().await;
        let Some(mut turn) = self.load(&jid, to).await? else {
            return Ok(Vec::new());
        };
        self.run_lesson(&mut turn, &mut VecDeque::from([ev])).await
    }

    /// A whitelisted learner has added the bot (the subscription is mutual): the lesson greets
    /// them before they write, starting their session if they have none yet.
    pub async fn on_subscribed(&self, jid: BareJid) {
        let to = Jid::from(jid.clone());
        let jid = jid.to_string();
        let _guard = self.lock_for(&jid).lock().await;
        let r = async {
            let mut turn = match self.load(&jid, to.clone()).await? {
                Some(t) => t,
                None => self.create(&jid, to).await?,
            };
            let mut queue = VecDeque::from([lesson::Event::Subscribed]);
            self.run_lesson(&mut turn, &mut queue).await
        };
        if let Err(e) = r.await {
            tracing::error!(%jid, error = %e, "greeting turn failed");
        }
    }

    /// A due deadline from the scanner: the warning or the expiry, each exactly once, checked
    /// again under the learner's lock (activity may have moved the deadline).
    pub async fn on_due(&self, due: store::Due) {
        let jid = due.jid.clone();
        let lock = self.lock_for(&jid);
        let _guard = lock.lock().await;
        let now = unix_now();
        let r = match due.kind {
            store::DeadlineKind::Warn => match self.store.mark_warned(&jid, now) {
                Ok(true) => {
                    let left = self
                        .cfg
                        .timeouts
                        .session
                        .saturating_sub(self.cfg.timeouts.warning);
                    self.event_turn(
                        &jid,
                        lesson::Event::Warn {
                            minutes_left: left.div_ceil(60),
                        },
                    )
                    .await
                }
                Ok(false) => Ok(()),
                Err(e) => Err(e.into()),
            },
            store::DeadlineKind::Expire => match self.store.session(&jid) {
                Ok(Some(s)) if s.deadlines.expire_at <= now => {
                    let r = self.event_turn(&jid, lesson::Event::Expire).await;
                    // Whatever the lesson said, the session, its secrets and keys go now.
                    let _ = self.store.expire_if_due(&jid, now);
                    self.unfriend_unless_whitelisted(&jid).await;
                    tracing::info!(%jid, "session expired");
                    r
                }
                Ok(_) => Ok(()),
                Err(e) => Err(e.into()),
            },
        };
        if let Err(e) = r {
            tracing::error!(%jid, error = %e, "deadline turn failed");
        }
    }

    /// Reacts to what the course page (or the admin socket) changed.
    pub async fn on_admin(&self, ev: super::admin::AdminEvent) {
        use super::admin::AdminEvent as A;
        let A::SessionStarted { jid } = ev else {
            return;
        };
        let lock = self.lock_for(&jid);
        let _guard = lock.lock().await;
        for c in roster::on_whitelist_change(&jid, true) {
            let _ = self.xmpp.send(c).await;
        }
    }

    /// Runs `ev` for `jid` under the learner's lock: the lesson's first decision (its
    /// actions, or why the event was impossible), or `None` without a session.
    pub(super) async fn decide(
        &self,
        jid: &str,
        ev: lesson::Event,
    ) -> Result<Option<(Result<Vec<Action>, LessonError>, Turn)>, TurnError> {
        let to: Jid = jid
            .parse()
            .map_err(|e| TurnError::Lesson(format!("{jid}: {e}")))?;
        let lock = self.lock_for(jid);
        let _guard = lock.lock().await;
        let Some(mut turn) = self.load(jid, to).await? else {
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

    async fn event_turn(&self, jid: &str, ev: lesson::Event) -> Result<(), TurnError> {
        let to: Jid = jid
            .parse()
            .map_err(|e| TurnError::Lesson(format!("{jid}: {e}")))?;
        if let Some(mut turn) = self.load(jid, to).await? {
            self.run_lesson(&mut turn, &mut VecDeque::from([ev]))
                .await?;
        }
        Ok(())
    }

    async fn chat_turn(&self, jid: &str, from: Jid, body: String) -> Result<(), TurnError> {
        let mut turn = match self.load(jid, from.clone()).await? {
            Some(t) => t,
            None => self.create(jid, from.clone()).await?,
        };
        turn.to = from;
        let now = unix_now();
        self.ensure_otr(&mut turn)?;
        // OTR's timer, as libotr's applications run it: an AKE or a fragmented message left
        // unfinished for a minute is forgotten (its DH secret with it) before the next message
        // is read. Expiry removes whatever a silent learner left.
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

    /// Persists the OTR state, then sends what OTR produced; lesson events go to `queue`.
    async fn apply_otr(
        &self,
        turn: &mut Turn,
        out: crate::otr::Output,
        queue: &mut VecDeque<lesson::Event>,
    ) -> Result<(), TurnError> {
        let secret = turn
            .session
            .shared_secret
            .as_ref()
            .and_then(|s| std::str::from_utf8(s.expose()).ok().map(str::to_owned));
        // OTR's events come from OTR's state, which the turn has therefore read.
        let Some(otr) = &turn.otr else {
            return Ok(());
        };
        let sends = out.wire;
        for ev in out.events {
            if let crate::otr::Event::Problem(p) = &ev {
                tracing::info!(jid = %turn.jid, problem = %super::learner::LoggedProblem(p), "otr problem");
            }
            match meaning(ev, secret.as_deref(), &otr.channel) {
                Meaning::Lesson(e) => queue.push_back(e),
                Meaning::Nothing => {}
            }
        }
        // Kept even when nothing is sent: a read changes the state too (a fragment held for
        // reassembly, a new key of the peer's); on the disk before anything made from it is
        // sent, so that no AES-CTR counter is ever used twice. A state that did not change
        // (plain text, an ignored message) is not written again, but is still made durable
        // before anything is sent.
        let state = otr.encode()?;
        let unchanged = turn
            .otr_stored
            .as_ref()
            .is_some_and(|s| s.expose() == state.expose());
        if sends.is_empty() {
            if !unchanged {
                self.store.keep_channel_state(&turn.jid, state.expose())?;
            }
        } else if unchanged {
            self.store.flush_async().await?;
        } else {
            self.store
                .save_channel_state_async(&turn.jid, state.expose())
                .await?;
        }
        turn.otr_stored = Some(state);
        for body in sends {
            self.send(Outgoing::Chat {
                to: turn.to.clone(),
                body,
            })
            .await;
        }
        Ok(())
    }

    async fn run_lesson(
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
        let now = unix_now();
        let mut c = LessonCommit::default();
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
        match self.store.commit_lesson(&turn.jid, &c) {
            Ok((rec, _)) => {
                turn.session = rec.session;
                Ok(())
            }
            // Ended meanwhile (an operator's kill): nothing left to keep.
            Err(store::Error::NoSession(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn act(
        &self,
        turn: &mut Turn,
        action: &Action,
        queue: &mut VecDeque<lesson::Event>,
    ) -> Result<(), TurnError> {
        let now = unix_now();
        let secret = |session: &Session| {
            zeroize::Zeroizing::new(
                session
                    .shared_secret
                    .as_ref()
                    .map(|s| s.expose().to_vec())
                    .unwrap_or_default(),
            )
        };
        if matches!(
            action,
            Action::Say { .. }
                | Action::StartSmp { .. }
                | Action::RespondSmp
                | Action::AbortSmp
                | Action::EndOtr
        ) {
            self.ensure_otr(turn)?;
        }
        let out = match action {
            Action::Say { msg, params } => {
                let text = self.text(&turn.session.locale, *msg, params);
                self.typing(turn, &text).await;
                turn.last_reply = Some(text.chars().count());
                otr_blocking(turn, move |c, a| c.write(a, &text, now)).await?
            }
            Action::StartSmp { question } => {
                let q = question.map(|m| self.text(&turn.session.locale, m, &[]));
                let answer = secret(&turn.session);
                let ask =
                    move |c: &mut Channel, a: &Account| c.smp_verify(a, &answer, q.as_deref(), now);
                otr_blocking(turn, ask).await?
            }
            Action::RespondSmp => {
                let answer = secret(&turn.session);
                otr_blocking(turn, move |c, a| c.smp_verify(a, &answer, None, now)).await?
            }
            Action::AbortSmp => otr_blocking(turn, move |c, a| c.smp_abort(a, now)).await?,
            Action::EndOtr => otr_blocking(turn, move |c, a| c.finish(a, now)).await?,
            Action::ShowStatus(msg) => {
                turn.farewell = Some(self.text(&turn.session.locale, *msg, &[]));
                crate::otr::Output::default()
            }
            Action::EndSession => {
                self.store.remove_session(&turn.jid)?;
                self.unfriend_unless_whitelisted(&turn.jid).await;
                self.farewell(turn).await;
                // The channel state went with the session: nothing is left to keep.
                return Ok(());
            }
            // Written by `commit` before any of this turn's chat; answers for the course page.
            Action::StoreSecret(_)
            | Action::VoidSecret
            | Action::ResetTimers
            | Action::PostGrade(_)
            | Action::AcceptCode
            | Action::RefuseCode { .. }
            | Action::RefuseSecret(_) => crate::otr::Output::default(),
        };
        self.apply_otr(turn, out, queue).await
    }

    /// A lesson message in `locale`, with the operator's format strings.
    fn text(
        &self,
        locale: &str,
        msg: lesson::Msg,
        params: &[(&'static str, lesson::Param)],
    ) -> String {
        let globals: Vec<(&str, &str)> = self
            .cfg
            .globals
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        render(&self.catalogs, locale, msg, params, &globals)
    }

    /// With `scheduled_say`: "types" a reply (XEP-0085 composing, for as long as typing `text`
    /// takes). For a second reply in one turn the bot stops halfway (paused) while the learner
    /// reads the previous one, then types on. The reply itself then carries `active`.
    async fn typing(&self, turn: &Turn, text: &str) {
        let Some(per_char) = self.cfg.per_char else {
            return;
        };
        let chars = |n: usize| {
            per_char
                .saturating_mul(n.min(10_000) as u32)
                .min(MAX_TYPING)
        };
        let pause = chars(text.chars().count());
        self.chat_state(turn, ChatState::Composing).await;
        let Some(previous) = turn.last_reply else {
            tokio::time::sleep(pause).await;
            return;
        };
        tokio::time::sleep(pause / 2).await;
        self.chat_state(turn, ChatState::Paused).await;
        tokio::time::sleep(chars(previous) / READING_SPEEDUP).await;
        self.chat_state(turn, ChatState::Composing).await;
        tokio::time::sleep(pause - pause / 2).await;
    }

    /// Sends the status text left by [`Action::ShowStatus`], if any.
    /// Takes `jid` off the roster once its session has ended, unless an operator's whitelist
    /// entry keeps it (an LTI learner's entry ends with the session): whoever stays
    /// whitelisted can start again by writing.
    async fn unfriend_unless_whitelisted(&self, jid: &str) {
        if matches!(self.store.whitelist_get(jid), Ok(None)) {
            for c in roster::on_whitelist_change(jid, false) {
                let _ = self.xmpp.send(c).await;
            }
        }
    }

    async fn farewell(&self, turn: &mut Turn) {
        if let Some(status) = turn.farewell.take() {
            self.send(Outgoing::UnavailableTo {
                to: turn.to.to_bare(),
                status,
            })
            .await;
        }
    }

    async fn chat_state(&self, turn: &Turn, state: ChatState) {
        self.send(Outgoing::ChatState {
            to: turn.to.clone(),
            state,
        })
        .await;
    }

    async fn send(&self, o: Outgoing) {
        if self.xmpp.send(Command::Send(o)).await.is_err() {
            tracing::warn!("the XMPP connection has stopped");
        }
    }

    async fn load(&self, jid: &str, to: Jid) -> Result<Option<Turn>, TurnError> {
        let Some(stored) = self.store.session(jid)? else {
            return Ok(None);
        };
        let session = stored.session;
        let stage = stage_of(&session)?;
        Ok(Some(Turn::new(jid, to, session, stage, None)))
    }

    /// Reads the turn's OTR state (or makes it from the session's pool key) if not yet read.
    fn ensure_otr(&self, turn: &mut Turn) -> Result<(), TurnError> {
        if turn.otr.is_none() {
            let stored = self.store.channel_state(&turn.jid)?;
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
            .store
            .otr_key(jid)?
            .ok_or_else(|| store::Error::NoSession(jid.to_owned()))?;
        Ok(OtrState::from_pool_key(&self.cfg.bot_jid, key.expose())?)
    }

    async fn create(&self, jid: &str, to: Jid) -> Result<Turn, TurnError> {
        let now = unix_now();
        let locale = match self.store.whitelist_get(jid)? {
            Some(w) => w.locale,
            None => self.cfg.default_locale.clone(),
        };
        let secret = self.cfg.default_secret.clone();
        let stage = Stage::start(secret.is_some());
        let mut session = Session::new(stage.name(), locale, now);
        session.lesson_state = bincode::serde::encode_to_vec(&stage, bincode::config::standard())
            .map_err(|e| TurnError::Lesson(e.to_string()))?;
        session.shared_secret = secret.map(|s| SecretBytes::new(s.into_bytes()));
        self.pool
            .create_session(jid, &session, self.cfg.timeouts)
            .await?;
        let otr = self.fresh_otr(jid)?;
        tracing::info!(%jid, "session started");
        Ok(Turn::new(jid, to, session, stage, Some(otr)))
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

/// Runs an OTR call (1536-bit arithmetic: reading, new data-message keys, SMP steps, ending OTR)
/// on the blocking pool, so that the async workers never wait for it.
async fn otr_blocking(
    turn: &mut Turn,
    call: impl FnOnce(&mut Channel, &Account) -> crate::otr::Output + Send + 'static,
) -> Result<crate::otr::Output, TurnError> {
    let mut otr = turn
        .otr
        .take()
        .ok_or_else(|| TurnError::Lesson("OTR state not loaded".into()))?;
    let (otr, out) = tokio::task::spawn_blocking(move || {
        let account = otr.account.clone();
        let out = call(&mut otr.channel, &account);
        (otr, out)
    })
    .await
    .map_err(|e| TurnError::Task(e.to_string()))?;
    turn.otr = Some(otr);
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_from_the_course_page_starts_the_lesson() {
        let mut s = Session::new("waiting", "en_GB", 0);
        assert_eq!(stage_of(&s).unwrap(), Stage::start(false));
        s.shared_secret = Some(SecretBytes::new(b"purple otters".to_vec()));
        assert_eq!(stage_of(&s).unwrap(), Stage::start(true));
        let later = Stage::start(true);
        s.lesson_state =
            bincode::serde::encode_to_vec(&later, bincode::config::standard()).unwrap();
        assert_eq!(stage_of(&s).unwrap(), later);
        s.lesson_state = vec![0xff];
        assert!(matches!(stage_of(&s), Err(TurnError::Lesson(_))));
    }
}
