//! The receiving side of a channel: classification, fragments, AKE and data messages.

use super::{
    Channel, Ended, Event, Offer, Out, Problem, ERR_AKE_FAILED, ERR_NOT_PRIVATE, ERR_UNREADABLE,
};
use crate::account::{Account, MIN_INSTANCE_TAG};
use crate::ake::{AkeOutput, AkeState, Tags};
use crate::error::OtrError;
use crate::fragment;
use crate::message::{self, classify, Body, Classified, Message, Version, FLAG_IGNORE_UNREADABLE};
use crate::policy::Policy;

impl Channel {
    /// Processes one received chat message; `now` is the current time in seconds.
    pub fn read(&mut self, account: &Account, msg: &str, now: u64) -> Out {
        let mut out = Vec::new();
        match classify(msg) {
            Err(e) => out.push(Event::Problem(Problem::Malformed(e))),
            Ok(Classified::Fragment(f)) => self.read_fragment(account, &f, now, &mut out),
            Ok(Classified::Encoded(bytes)) => self.read_encoded(account, &bytes, now, &mut out),
            Ok(Classified::Plain(text)) => {
                if self.offer == Offer::Sent {
                    self.offer = Offer::Rejected;
                }
                if !text.is_empty() {
                    out.push(Event::Message {
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
                    out.push(Event::Message {
                        instance: 0,
                        text,
                        encrypted: false,
                    });
                }
            }
            Ok(Classified::Query(versions)) => self.start_ake(account, versions, now, &mut out),
            Ok(Classified::Error(text)) => {
                out.push(Event::Problem(Problem::ReceivedError(text)));
                if account.policy.contains(Policy::ERROR_START_AKE) {
                    out.extend(self.init(account));
                }
            }
        }
        out
    }

    fn read_fragment(&mut self, account: &Account, text: &str, now: u64, out: &mut Out) {
        let f = match fragment::parse(text) {
            Ok(f) => f,
            Err(e) => return out.push(Event::Problem(Problem::Malformed(e))),
        };
        let instance = match f.tags {
            Some((sender, receiver)) => {
                if sender < MIN_INSTANCE_TAG {
                    return out.push(Event::Problem(Problem::Malformed(OtrError::InstanceTag)));
                }
                if receiver != 0 && receiver != account.instance_tag {
                    return out.push(Event::Problem(Problem::ForOtherInstance));
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
                Ok(_) => out.push(Event::Problem(Problem::Malformed(OtrError::Malformed(
                    "fragmented non-OTR message",
                )))),
                Err(e) => out.push(Event::Problem(Problem::Malformed(e))),
            }
        }
    }

    fn read_encoded(&mut self, account: &Account, bytes: &[u8], now: u64, out: &mut Out) {
        let msg = match Message::parse(bytes) {
            Ok(m) => m,
            Err(e) => return out.push(Event::Problem(Problem::Malformed(e))),
        };
        let h = msg.header;
        if !account.policy.allows(h.version) {
            return;
        }
        let instance = if h.version == Version::V3 {
            if h.sender < MIN_INSTANCE_TAG {
                return out.push(Event::Problem(Problem::Malformed(OtrError::InstanceTag)));
            }
            if h.receiver == 0 && !matches!(msg.body, Body::DhCommit { .. }) {
                return out.push(Event::Problem(Problem::Malformed(OtrError::InstanceTag)));
            }
            if h.receiver != 0 && h.receiver != account.instance_tag {
                return out.push(Event::Problem(Problem::ForOtherInstance));
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
        out: &mut Out,
    ) {
        let master_waiting = match self.sessions.get(&0).map(|s| &s.ake) {
            Some(a @ AkeState::AwaitingDhKey(_))
                if instance != 0 && a.version() == Some(msg.header.version) =>
            {
                Some(a.clone())
            }
            _ => None,
        };
        let session = self.session_for(instance);
        let inherits = match &msg.body {
            // libotr (otrl_auth_copy_on_key): a DH-Key answers the master's DH-Commit, whatever
            // the child kept from an earlier exchange (one that failed, say). A retransmitted
            // DH-Key is answered from the same commit again, so nothing is lost.
            Body::DhKey { .. } => true,
            Body::DhCommit { .. } => session.ake == AkeState::None,
            _ => false,
        };
        let inherited = master_waiting.is_some() && inherits;
        if let (Some(master), true) = (master_waiting, inherits) {
            session.ake = master;
        }
        let tags = Tags {
            ours: account.instance_tag,
            theirs: instance,
        };
        let version = msg.header.version;
        session.ake_at = now;
        match session.ake.handle(msg, &account.key, tags) {
            Err(e) => {
                // Said at once, so that the peer's client (libotr's ERROR_START_AKE) and its
                // user know to start again; the next DH-Commit or DH-Key restarts the exchange.
                out.push(Event::Problem(Problem::Ake(e)));
                out.push(Event::Inject(ERR_AKE_FAILED.to_owned()));
            }
            Ok(AkeOutput::Nothing) => {}
            Ok(AkeOutput::Send(bytes)) => {
                let gave_up = matches!(session.ake, AkeState::AwaitingRevealSig(_));
                if inherited && gave_up && matches!(msg.body, Body::DhCommit { .. }) {
                    // Both sides committed at once and the peer's commit won: the master's
                    // commit is given up too, or a DH-Key the peer's client sends to it (libotr
                    // answers every commit) would restart this exchange, and both sides would
                    // wait for each other's Signature.
                    if let Some(master) = self.sessions.get_mut(&0) {
                        master.ake = AkeState::None;
                    }
                }
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
                let was = session.establish(&est);
                if let Some(bytes) = send {
                    Self::inject_encoded(account, version, instance, &bytes, out);
                }
                if was {
                    out.push(Event::StillSecure { instance });
                } else {
                    out.push(Event::GoneSecure {
                        instance,
                        fingerprint: est.fingerprint,
                        ssid: est.ssid,
                        version,
                    });
                }
                let known = self.fingerprints.get(&est.fingerprint).copied();
                if known != Some(true) {
                    self.remember_fingerprint(est.fingerprint);
                    out.push(Event::UnverifiedFingerprint {
                        fingerprint: est.fingerprint,
                        new: known.is_none(),
                    });
                }
                for text in core::mem::take(&mut self.pending) {
                    out.extend(self.send_data(account, instance, text.as_bytes(), &[], 0, now));
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
        out: &mut Out,
    ) {
        let ignore = d.flags & FLAG_IGNORE_UNREADABLE != 0;
        // No session is made for a data message: unknown instances are not private.
        let session = match self.sessions.get_mut(&instance) {
            Some(s) if s.is_encrypted() => s,
            _ => {
                if !ignore {
                    out.push(Event::Problem(Problem::NotInPrivate));
                    out.push(Event::Inject(ERR_NOT_PRIVATE.to_owned()));
                }
                return;
            }
        };
        let opened = match session.open(d, now) {
            Ok(o) => o,
            Err(e) => {
                if !ignore {
                    out.push(Event::Problem(Problem::Unreadable(e)));
                    out.push(Event::Inject(ERR_UNREADABLE.to_owned()));
                }
                return;
            }
        };
        let heartbeat = session.wants_heartbeat(now);
        if !opened.text.is_empty() {
            out.push(Event::Message {
                instance,
                text: String::from_utf8_lossy(&opened.text).into_owned(),
                encrypted: true,
            });
        }
        if !opened.tlvs.is_empty() {
            self.handle_tlvs(account, instance, opened.tlvs, opened.extra_key, now, out);
        }
        if opened.disconnected {
            out.push(Event::GoneInsecure {
                instance,
                ended: Ended::ByPeer,
            });
        } else if heartbeat {
            out.extend(self.send_data(account, instance, b"", &[], FLAG_IGNORE_UNREADABLE, now));
        }
    }
}
