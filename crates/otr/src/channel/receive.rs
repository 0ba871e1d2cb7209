//! The receiving side of a channel: classification, fragments, AKE and data messages.

use super::{
    Channel, Ended, Event, Offer, Output, Problem, ERR_AKE_FAILED, ERR_NOT_PRIVATE, ERR_UNREADABLE,
};
use crate::account::{Account, MIN_INSTANCE_TAG};
use crate::ake::{AkeOutput, AkeState, Tags};
use crate::error::OtrError;
use crate::fragment;
use crate::message::{self, classify, Body, Classified, Message, Version, FLAG_IGNORE_UNREADABLE};
use crate::policy::Policy;

impl Channel {
    /// Processes one received chat message; `now` is the current time in seconds.
    pub fn read(&mut self, account: &Account, msg: &str, now: u64) -> Output {
        let mut out = Output::default();
        match classify(msg) {
            Err(e) => out.report(Event::Problem(Problem::Malformed(e))),
            Ok(Classified::Fragment(f)) => self.read_fragment(account, &f, now, &mut out),
            Ok(Classified::Encoded(bytes)) => self.read_encoded(account, &bytes, now, &mut out),
            Ok(Classified::Plain(text)) => {
                if self.offer == Offer::Sent {
                    self.offer = Offer::Rejected;
                }
                if !text.is_empty() {
                    out.report(Event::Message {
                        instance: 0,
                        text,
                        encrypted: false,
                    });
                }
            }
            Ok(Classified::Tagged { text, versions }) => {
                if account.policy.contains(Policy::WHITESPACE_START_AKE) {
                    self.start_ake(account, versions, now, &mut out);
                }
                if !text.is_empty() {
                    out.report(Event::Message {
                        instance: 0,
                        text,
                        encrypted: false,
                    });
                }
            }
            Ok(Classified::Query(versions)) => self.start_ake(account, versions, now, &mut out),
            Ok(Classified::Error(text)) => {
                out.report(Event::Problem(Problem::ReceivedError(text)));
                if account.policy.contains(Policy::ERROR_START_AKE) {
                    out.append(self.init(account));
                }
            }
        }
        out
    }

    fn read_fragment(&mut self, account: &Account, text: &str, now: u64, out: &mut Output) {
        let f = match fragment::parse(text) {
            Ok(f) => f,
            Err(e) => return out.report(Event::Problem(Problem::Malformed(e))),
        };
        let instance = match f.tags {
            Some((sender, receiver)) => {
                if sender < MIN_INSTANCE_TAG {
                    return out.report(Event::Problem(Problem::Malformed(OtrError::InstanceTag)));
                }
                if receiver != 0 && receiver != account.instance_tag {
                    return out.report(Event::Problem(Problem::ForOtherInstance));
                }
                sender
            }
            None => 0,
        };
        self.make_room_for_fragment(instance, f.piece.len());
        let session = self.session_for(instance);
        session.fragment_at = now;
        let whole = session.fragments.add(&f);
        if let Some(whole) = whole {
            match classify(&whole) {
                Ok(Classified::Encoded(bytes)) => self.read_encoded(account, &bytes, now, out),
                Ok(_) => out.report(Event::Problem(Problem::Malformed(OtrError::Malformed(
                    "fragmented non-OTR message",
                )))),
                Err(e) => out.report(Event::Problem(Problem::Malformed(e))),
            }
        }
    }

    fn read_encoded(&mut self, account: &Account, bytes: &[u8], now: u64, out: &mut Output) {
        let msg = match Message::parse(bytes) {
            Ok(m) => m,
            Err(e) => return out.report(Event::Problem(Problem::Malformed(e))),
        };
        let h = msg.header;
        if !account.policy.allows(h.version) {
            return;
        }
        let instance = if h.version == Version::V3 {
            if h.sender < MIN_INSTANCE_TAG {
                return out.report(Event::Problem(Problem::Malformed(OtrError::InstanceTag)));
            }
            if h.receiver == 0 && !matches!(msg.body, Body::DhCommit { .. }) {
                return out.report(Event::Problem(Problem::Malformed(OtrError::InstanceTag)));
            }
            if h.receiver != 0 && h.receiver != account.instance_tag {
                return out.report(Event::Problem(Problem::ForOtherInstance));
            }
            h.sender
        } else {
            0
        };
        if self.offer == Offer::Sent {
            self.offer = Offer::Accepted;
        }
        match &msg.body {
            Body::Data(d) => self.read_data(account, instance, d, now, out),
            _ => self.read_ake(account, instance, &msg, now, out),
        }
    }

    fn read_ake(
        &mut self,
        account: &Account,
        instance: u32,
        msg: &Message,
        now: u64,
        out: &mut Output,
    ) {
        let version = msg.header.version;
        let master_waiting = instance != 0
            && self.sessions.get(&0).is_some_and(|m| {
                matches!(m.ake, AkeState::AwaitingDhKey(_)) && m.ake.version() == Some(version)
            });
        let child_idle = self
            .sessions
            .get(&instance)
            .is_none_or(|s| s.ake == AkeState::None);
        // libotr (otrl_auth_copy_on_key): a DH-Key answers the master's DH-Commit, whatever
        // the child kept from an earlier exchange (one that failed, say). A retransmitted
        // DH-Key is answered from the same commit again, so nothing is lost.
        let inherits = master_waiting
            && match &msg.body {
                Body::DhKey { .. } => true,
                Body::DhCommit { .. } => child_idle,
                _ => false,
            };
        let inherited = match self.sessions.get_mut(&0) {
            Some(master) if inherits => Some(match &msg.body {
                // The master keeps its commit for the peer's other instances (libotr copies
                // it): the one copy of those secrets that a move cannot replace.
                Body::DhKey { .. } => master.ake.clone(),
                // Taken: if the peer's commit wins, the master's commit is given up too, or a
                // DH-Key the peer's client sends to it (libotr answers every commit) would
                // restart this exchange and both sides would wait for each other's Signature.
                _ => core::mem::take(&mut master.ake),
            }),
            _ => None,
        };
        let taken = inherited.is_some() && matches!(msg.body, Body::DhCommit { .. });
        let session = self.session_for(instance);
        if let Some(state) = inherited {
            session.ake = state;
        }
        let tags = Tags {
            ours: account.instance_tag,
            theirs: instance,
        };
        session.ake_at = now;
        let (next, result) = core::mem::take(&mut session.ake).handle(msg, &account.key, tags);
        session.ake = next;
        if taken && matches!(session.ake, AkeState::AwaitingDhKey(_)) {
            // Our commit won over the peer's: the master keeps it as well, as before.
            let kept = session.ake.clone();
            if let Some(master) = self.sessions.get_mut(&0) {
                master.ake = kept;
            }
        }
        let Some(session) = self.sessions.get_mut(&instance) else {
            return;
        };
        match result {
            Err(e) => {
                // Said at once, so that the peer's client (libotr's ERROR_START_AKE) and its
                // user know to start again; the next DH-Commit or DH-Key restarts the exchange.
                out.report(Event::Problem(Problem::Ake(e)));
                out.send(ERR_AKE_FAILED.to_owned());
            }
            Ok(AkeOutput::Nothing) => {}
            Ok(AkeOutput::Send(bytes)) => {
                Self::inject_encoded(account, version, instance, &bytes, out)
            }
            Ok(AkeOutput::Done(est, send)) => {
                session.last_recv = now;
                if let (Some(master), true) = (self.sessions.get_mut(&0), instance != 0) {
                    master.ake = AkeState::None;
                }
                let Some(session) = self.sessions.get_mut(&instance) else {
                    return;
                };
                let (fingerprint, ssid) = (est.fingerprint, est.ssid);
                let was = session.establish(*est);
                if let Some(bytes) = send {
                    Self::inject_encoded(account, version, instance, &bytes, out);
                }
                if was {
                    out.report(Event::StillSecure { instance });
                } else {
                    out.report(Event::GoneSecure {
                        instance,
                        fingerprint,
                        ssid,
                        version,
                    });
                }
                let known = self.fingerprints.get(&fingerprint).copied();
                if known != Some(true) {
                    self.remember_fingerprint(fingerprint);
                    out.report(Event::UnverifiedFingerprint {
                        fingerprint,
                        new: known.is_none(),
                    });
                }
                for text in core::mem::take(&mut self.pending) {
                    out.append(self.send_data(account, instance, text.as_bytes(), &[], 0, now));
                }
            }
        }
    }

    fn read_data(
        &mut self,
        account: &Account,
        instance: u32,
        d: &message::DataMessage,
        now: u64,
        out: &mut Output,
    ) {
        let ignore = d.flags & FLAG_IGNORE_UNREADABLE != 0;
        // No session is made for a data message: unknown instances are not private.
        let session = match self.sessions.get_mut(&instance) {
            Some(s) if s.is_encrypted() => s,
            _ => {
                if !ignore {
                    out.report(Event::Problem(Problem::NotInPrivate));
                    out.send(ERR_NOT_PRIVATE.to_owned());
                }
                return;
            }
        };
        let mut opened = match session.open(d, now) {
            Ok(o) => o,
            Err(e) => {
                if !ignore {
                    out.report(Event::Problem(Problem::Unreadable(e)));
                    out.send(ERR_UNREADABLE.to_owned());
                }
                return;
            }
        };
        let heartbeat = session.wants_heartbeat(now);
        if !opened.text.is_empty() {
            out.report(Event::Message {
                instance,
                // Valid UTF-8 (the usual case) becomes the String without a copy.
                text: String::from_utf8(std::mem::take(&mut opened.text))
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
                encrypted: true,
            });
        }
        if !opened.tlvs.is_empty() {
            self.handle_tlvs(account, instance, opened.tlvs, opened.extra_key, now, out);
        }
        if opened.disconnected {
            out.report(Event::GoneInsecure {
                instance,
                ended: Ended::ByPeer,
            });
        } else if heartbeat {
            out.append(self.send_data(account, instance, b"", &[], FLAG_IGNORE_UNREADABLE, now));
        }
    }
}
