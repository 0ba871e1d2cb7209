//! The lesson's actions carried out: OTR writes and SMP on the blocking pool, the new OTR
//! state saved, then what it produced sent.

use super::turn::Turn;
use super::{Teacher, TurnError};
use crate::bot::otr_state::{meaning, Meaning};
use crate::i18n::speech::render;
use crate::lesson::{self, Action, Protocol};
use crate::otr::{Account, Channel};
use crate::store::Session;
use crate::xmpp::stanza::Outgoing;
use std::collections::VecDeque;

impl Teacher {
    /// Persists the OTR state, then sends what OTR produced; lesson events go to `queue`.
    pub(super) async fn apply_otr(
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
                tracing::info!(jid = %turn.jid, problem = %crate::bot::otr_state::LoggedProblem(p), "otr problem");
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
                self.parts
                    .channels
                    .keep_channel_state(&turn.jid, state.expose())?;
            }
        } else if unchanged {
            self.parts.channels.flush().await?;
        } else {
            self.parts
                .channels
                .save_channel_state(&turn.jid, state.expose())
                .await?;
        }
        turn.otr_stored = Some(state);
        // The scanner wakes the channel when it next wants time (a stale AKE's DH secret is
        // forgotten then, not at the learner's next message).
        let next = otr.channel.poll_timeout();
        self.parts.channels.set_otr_timer(&turn.jid, next)?;
        for body in sends {
            self.send(Outgoing::Chat {
                to: turn.to.clone(),
                body,
            })
            .await;
        }
        Ok(())
    }

    pub(super) async fn act(
        &self,
        turn: &mut Turn,
        action: &Action,
        queue: &mut VecDeque<lesson::Event>,
    ) -> Result<(), TurnError> {
        if turn.protocol == Protocol::Omemo {
            return self.act_omemo(turn, action).await;
        }
        let now = self.parts.clock.now();
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
            Action::EndSession => return self.end_session(turn).await,
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

    /// The OMEMO lesson's actions: what it says goes through [`Self::omemo_say`]; OTR's
    /// actions do not occur in it.
    async fn act_omemo(&self, turn: &mut Turn, action: &Action) -> Result<(), TurnError> {
        match action {
            Action::Say { msg, params } => {
                let text = self.text(&turn.session.locale, *msg, params);
                self.typing(turn, &text).await;
                turn.last_reply = Some(text.chars().count());
                self.omemo_say(turn, text).await
            }
            Action::ShowStatus(msg) => {
                turn.farewell = Some(self.text(&turn.session.locale, *msg, &[]));
                Ok(())
            }
            Action::EndSession => self.end_session(turn).await,
            _ => Ok(()),
        }
    }

    /// Ends the session: its state, secrets and keys go, the roster entry too (unless the
    /// operator listed the JID), and the farewell status is left.
    async fn end_session(&self, turn: &mut Turn) -> Result<(), TurnError> {
        self.parts.sessions.remove_session(&turn.jid)?;
        self.unfriend_unless_whitelisted(&turn.jid).await;
        self.farewell(turn).await;
        // The channel state went with the session: nothing is left to keep.
        Ok(())
    }

    /// A lesson message in `locale`, with the operator's format strings.
    pub(super) fn text(
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
}

/// Runs an OTR call (1536-bit arithmetic: reading, new data-message keys, SMP steps, ending OTR)
/// on the blocking pool, so that the async workers never wait for it.
pub(super) async fn otr_blocking(
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
