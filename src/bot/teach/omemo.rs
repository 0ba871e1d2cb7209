//! The OMEMO lesson's turns: a learner's OMEMO message read by the bot's true device (its
//! `<key>` elements tell the lesson which of the bot's devices the learner's client trusts),
//! and the bot's replies encrypted for every device of the learner, the state saved before
//! anything made from it is sent. The impostor device never reads or sends anything.

use super::turn::Turn;
use super::{Teacher, TurnError};
use crate::bot::omemo_device::DeviceError;
use crate::bot::omemo_state::{addressed, OmemoChannel};
use crate::lesson::{self, strip_markup, Protocol};
use crate::xmpp::link::Command;
use crate::xmpp::stanza::Outgoing;
use omemo::OmemoError;
use std::collections::VecDeque;
use tokio_xmpp::jid::{BareJid, Jid};

impl Teacher {
    /// One OMEMO message's turn.
    pub(super) async fn omemo_turn(
        &self,
        jid: &str,
        from: Jid,
        message: omemo::Encrypted,
        body: Option<String>,
    ) -> Result<(), TurnError> {
        let mut turn = match self.load(jid, from.clone()).await? {
            Some(t) => t,
            None => self.create(jid, from.clone()).await?,
        };
        if turn.protocol == Protocol::Otr {
            // The OTR lesson reads what a client without OMEMO would show (and teaches OTR).
            let body = body.unwrap_or_default();
            return self.chat_turn(jid, from, body).await;
        }
        turn.to = from;
        self.ensure_omemo(&mut turn)?;
        let devices = &self.parts.omemo;
        let (true_id, impostor_id) = (devices.true_id(), devices.impostor_id());
        let now = self.parts.clock.now();
        let sid = message.sid;
        let Some(channel) = turn.omemo.as_mut() else {
            return Ok(());
        };
        let stale = channel.list_stale(now, Some(sid));
        channel.saw(sid);
        // The true device reads what was for it; the impostor never reads anything.
        let mut text = String::new();
        let mut unreadable = false;
        if message.key_for(true_id).is_some() {
            match devices.decrypt(channel.sessions.get(&sid), &message) {
                Ok(opened) => {
                    channel.sessions.insert(sid, opened.decrypted.session);
                    if let Some(body) = opened.decrypted.body {
                        text = String::from_utf8_lossy(&body).into_owned();
                    }
                    if let Some(p) = opened.republish {
                        let _ = self.parts.chat.send(Command::PublishOmemo(p)).await;
                    }
                }
                Err(DeviceError::Omemo(OmemoError::DuplicateMessage(n))) => {
                    // Delivered twice (a resend, carbons, an archive): XEP-0384 says ignore.
                    tracing::debug!(%jid, sid, counter = n, "OMEMO message already read");
                    return Ok(());
                }
                Err(DeviceError::Omemo(e)) => {
                    // A one-time prekey another client had just used, or a session the
                    // learner's client lost: this one is of no use. The reply starts a new one
                    // from the learner's bundle, which replaces theirs (XEP-0384 v0.3 §5).
                    tracing::info!(%jid, sid, error = %e, "OMEMO message not decrypted");
                    channel.sessions.remove(&sid);
                    unreadable = message.payload.is_some();
                }
                Err(e) => return Err(e.into()),
            }
        }
        if stale {
            self.refresh_devices(&mut turn, now).await;
        }
        // A key transport message (no payload: a client completing a session, a heartbeat)
        // tells nothing of the learner's decisions; its state is kept all the same.
        tracing::debug!(%jid, sid, text_bytes = text.len(), "OMEMO message read");
        let event = match (&message.payload, addressed(&message, true_id, impostor_id)) {
            _ if unreadable => Some(lesson::Event::OmemoUnreadable),
            (Some(_), Some(to)) => Some(lesson::Event::OmemoReceived {
                text: strip_markup(&text),
                devices: to,
                learner_devices: turn.omemo.as_ref().map_or(0, |c| c.devices().len()) as u32,
            }),
            (Some(_), None) => {
                tracing::info!(%jid, sid, "OMEMO message for none of the bot's devices");
                None
            }
            (None, _) => None,
        };
        self.keep_omemo(&mut turn)?;
        if let Some(ev) = event {
            self.run_lesson(&mut turn, &mut VecDeque::from([ev]))
                .await?;
        }
        Ok(())
    }

    /// A learner published a new device list (a PEP notification): the next reply is
    /// encrypted for the devices it names.
    pub async fn on_device_list(&self, jid: BareJid, ids: Vec<u32>) {
        let jid = jid.to_string();
        let lock = self.lock_for(&jid);
        let _guard = lock.lock().await;
        let r = async {
            let Some(mut turn) = self.load_bare(&jid).await? else {
                return Ok(());
            };
            if turn.protocol != Protocol::Omemo {
                return Ok(());
            }
            self.ensure_omemo(&mut turn)?;
            let now = self.parts.clock.now();
            tracing::info!(%jid, devices = ids.len(), "OMEMO device list taken");
            if let Some(c) = turn.omemo.as_mut() {
                c.set_list(ids, now);
            }
            self.keep_omemo(&mut turn)
        };
        if let Err(e) = r.await {
            tracing::error!(%jid, error = %e, "device list not taken");
        }
    }

    /// Reads the turn's OMEMO state (a new one before the learner's first message).
    pub(super) fn ensure_omemo(&self, turn: &mut Turn) -> Result<(), TurnError> {
        if turn.omemo.is_none() {
            turn.omemo = Some(match self.parts.channels.channel_state(&turn.jid)? {
                Some(b) => OmemoChannel::decode(b.expose())?,
                None => OmemoChannel::default(),
            });
        }
        Ok(())
    }

    /// Writes the OMEMO state; it reaches the disk with the next flush (or save).
    fn keep_omemo(&self, turn: &mut Turn) -> Result<(), TurnError> {
        if let Some(c) = &turn.omemo {
            let bytes = c.encode()?;
            self.parts
                .channels
                .keep_channel_state(&turn.jid, bytes.expose())?;
        }
        Ok(())
    }

    /// Fetches the learner's device list (a server that does not answer leaves the old one).
    async fn refresh_devices(&self, turn: &mut Turn, now: u64) {
        let Ok(bare) = turn.jid.parse::<BareJid>() else {
            return;
        };
        match self.parts.pep.device_list(&bare).await {
            Ok(ids) => {
                if let Some(c) = turn.omemo.as_mut() {
                    c.set_list(ids, now);
                }
            }
            Err(e) => tracing::info!(jid = %turn.jid, error = %e, "no OMEMO device list"),
        }
    }

    /// Says `text` to the learner: encrypted for every device of theirs once they have used
    /// OMEMO (sessions started from their bundles where there are none yet), saved, then sent;
    /// in plain text before that.
    pub(super) async fn omemo_say(&self, turn: &mut Turn, text: String) -> Result<(), TurnError> {
        self.ensure_omemo(turn)?;
        let in_use = turn.omemo.as_ref().is_some_and(OmemoChannel::in_use);
        if !in_use {
            tracing::debug!(jid = %turn.jid, "plain reply: the learner has not used OMEMO yet");
            self.send(Outgoing::Chat {
                to: turn.to.clone(),
                body: text,
            })
            .await;
            return Ok(());
        }
        let now = self.parts.clock.now();
        if turn.omemo.as_ref().is_some_and(|c| c.list_stale(now, None)) {
            self.refresh_devices(turn, now).await;
        }
        self.start_missing_sessions(turn).await;
        let Some(channel) = turn.omemo.as_mut() else {
            return Ok(());
        };
        let devices = channel.devices();
        let mut recipients: Vec<(u32, &mut omemo::Session)> = channel
            .sessions
            .iter_mut()
            .filter(|(d, _)| devices.contains(d))
            .map(|(d, s)| (*d, s))
            .collect();
        if recipients.is_empty() {
            // Never in plain text once OMEMO is in use: the completion code may be in it.
            tracing::warn!(jid = %turn.jid, "no OMEMO session with any device of the learner; reply not sent");
            return Ok(());
        }
        let message = self.parts.omemo.encrypt(&mut recipients, text.as_bytes())?;
        // The sessions moved on: on the disk before the message leaves.
        let bytes = channel.encode()?;
        self.parts
            .channels
            .save_channel_state(&turn.jid, bytes.expose())
            .await?;
        tracing::debug!(jid = %turn.jid, rids = ?message.recipients().collect::<Vec<_>>(), "OMEMO reply");
        let fallback = self.text(&turn.session.locale, lesson::Msg::OmemoFallbackBody, &[]);
        // To the bare JID: every device of the learner's is a recipient, whichever wrote.
        self.send(Outgoing::Omemo {
            to: Jid::from(turn.to.to_bare()),
            message: Box::new(message),
            fallback,
        })
        .await;
        Ok(())
    }

    /// Starts sessions with the learner's devices that have none, from their bundles (fetched
    /// at once; one that does not come or does not verify leaves that device out).
    async fn start_missing_sessions(&self, turn: &mut Turn) {
        let Ok(bare) = turn.jid.parse::<BareJid>() else {
            return;
        };
        let Some(channel) = turn.omemo.as_ref() else {
            return;
        };
        let missing: Vec<u32> = channel
            .devices()
            .into_iter()
            .filter(|d| !channel.sessions.contains_key(d))
            .collect();
        let pep = &self.parts.pep;
        let fetched =
            futures::future::join_all(missing.iter().map(|d| pep.bundle(&bare, *d))).await;
        for (device, bundle) in missing.into_iter().zip(fetched) {
            let started = bundle.and_then(|b| {
                self.parts
                    .omemo
                    .start_session(&b)
                    .map_err(|e| e.to_string())
            });
            match started {
                Ok(s) => {
                    if let Some(c) = turn.omemo.as_mut() {
                        c.sessions.insert(device, s);
                    }
                }
                Err(e) => {
                    tracing::info!(jid = %turn.jid, device, error = %e, "no OMEMO session with this device")
                }
            }
        }
    }
}
