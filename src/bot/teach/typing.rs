//! Pacing and the small stanzas around replies: typing notifications (XEP-0085), the
//! farewell status, and taking an ended session's learner off the roster.

use super::turn::Turn;
use super::Teacher;
use crate::bot::roster;
use crate::xmpp::link::Command;
use crate::xmpp::stanza::Outgoing;
use std::time::Duration;
use tokio_xmpp::parsers::chatstates::ChatState;

/// The longest typing pause before one reply.
const MAX_TYPING: Duration = Duration::from_secs(4);
/// Reading a reply takes this many times less than typing it.
const READING_SPEEDUP: u32 = 4;

impl Teacher {
    /// With `scheduled_say`: "types" a reply (XEP-0085 composing, for as long as typing `text`
    /// takes). For a second reply in one turn the bot stops halfway (paused) while the learner
    /// reads the previous one, then types on. The reply itself then carries `active`.
    pub(super) async fn typing(&self, turn: &Turn, text: &str) {
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
    pub(super) async fn unfriend_unless_whitelisted(&self, jid: &str) {
        if matches!(self.parts.sessions.whitelist_get(jid), Ok(None)) {
            for c in roster::on_whitelist_change(jid, false) {
                let _ = self.parts.chat.send(c).await;
            }
        }
    }

    pub(super) async fn farewell(&self, turn: &mut Turn) {
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

    pub(super) async fn send(&self, o: Outgoing) {
        if !self.parts.chat.send(Command::Send(o)).await {
            tracing::warn!("the XMPP connection has stopped");
        }
    }
}
