//! A channel with one contact: libotr's master context and its per-instance children.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::account::{Account, MIN_INSTANCE_TAG};
use super::ake::{self, AkeOutput, AkeState, Tags};
use super::error::OtrError;
use super::fragment;
use super::keys::Fingerprint;
use super::message::{
    self, armor, classify, Body, Classified, Message, Version, FLAG_IGNORE_UNREADABLE,
};
use super::policy::{Policy, Versions};
use super::session::{MsgState, Session};
use super::tlv::{self, Tlv};

/// Why a session stopped being encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The peer sent a disconnect (TLV 1).
    ByPeer,
    /// We called `finish`.
    ByUs,
}

/// A problem reported as an event (libotr's message events and error callbacks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The peer sent an OTR error message with this text.
    ReceivedError(String),
    /// A received message could not be parsed.
    Malformed(OtrError),
    /// A data message could not be read (unknown keys, bad MAC, replay).
    Unreadable(OtrError),
    /// An encrypted message arrived while no private conversation was running.
    NotInPrivate,
    /// A message addressed to another instance of ours was ignored.
    ForOtherInstance,
    /// The AKE failed on a received message.
    Ake(OtrError),
    /// The peer ended the conversation; the message was not sent (call `finish` or restart OTR).
    ConnectionEnded,
    /// Policy requires encryption: the message is held and a query was sent.
    EncryptionRequired,
    /// A message could not be sent.
    SendFailed(OtrError),
}

/// What the application must act on, returned by every channel call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Send this text to the contact (one entry per fragment, in order).
    Inject(String),
    /// A private conversation started with this instance.
    GoneSecure {
        /// The peer's instance tag (0 for version 2).
        instance: u32,
        /// The peer's fingerprint.
        fingerprint: Fingerprint,
        /// The secure session id.
        ssid: [u8; 8],
        /// The protocol version.
        version: Version,
    },
    /// An AKE completed while already private (refresh).
    StillSecure {
        /// The peer's instance tag.
        instance: u32,
    },
    /// A private conversation stopped.
    GoneInsecure {
        /// The peer's instance tag.
        instance: u32,
        /// Who ended it.
        ended: Ended,
    },
    /// The peer's fingerprint is not trusted (`new`: seen for the first time).
    UnverifiedFingerprint {
        /// The fingerprint.
        fingerprint: Fingerprint,
        /// True when this fingerprint was never seen on this channel.
        new: bool,
    },
    /// A message for the user.
    Message {
        /// The sending instance (0 for plaintext or version 2).
        instance: u32,
        /// The text.
        text: String,
        /// True when it arrived encrypted.
        encrypted: bool,
    },
    /// TLVs for the SMP / symmetric-key handler (types 2..=8).
    Tlvs {
        /// The sending instance.
        instance: u32,
        /// The records.
        tlvs: Vec<Tlv>,
        /// The extra symmetric key of the message's keys (for TLV 8).
        extra_key: [u8; 32],
    },
    /// Something went wrong; see [`Problem`].
    Problem(Problem),
}

/// libotr's `otr_offer` state for whitespace tags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Offer {
    /// No tag sent yet.
    #[default]
    NotSent,
    /// A tag was sent.
    Sent,
    /// The peer answered a tag with untagged plaintext.
    Rejected,
    /// The peer answered with OTR.
    Accepted,
}

/// Text of the error we send for unreadable data messages (libotr's).
pub const ERR_UNREADABLE: &str = "?OTR Error: You transmitted an unreadable encrypted message.";
/// Text of the error we send for data messages outside a private conversation.
pub const ERR_NOT_PRIVATE: &str =
    "?OTR Error: You sent encrypted data to a peer who wasn't expecting it.";

/// All OTR state for one contact; plain data that serialises exactly (serde).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// Sessions by the peer's instance tag (0 = master: version 2 or not yet known).
    pub sessions: BTreeMap<u32, Session>,
    /// Fingerprints seen on this channel and whether they are trusted.
    pub fingerprints: BTreeMap<Fingerprint, bool>,
    /// Whitespace-tag offer state.
    pub offer: Offer,
    /// Messages held until the conversation is private (REQUIRE_ENCRYPTION).
    pub pending: Vec<String>,
}

type Out = Vec<Event>;

impl Channel {
    /// A channel with no history.
    pub fn new() -> Channel {
        Channel::default()
    }

    /// The query message for the account's policy (`init` in Protocol::OTR).
    pub fn init(&mut self, account: &Account) -> Out {
        vec![Event::Inject(message::default_query(
            account.policy.versions(),
            &account.name,
        ))]
    }

    /// Restarts the AKE by sending a query (as Pidgin's "refresh").
    pub fn refresh(&mut self, account: &Account) -> Out {
        self.init(account)
    }

    /// Marks a fingerprint trusted or untrusted.
    pub fn trust(&mut self, fingerprint: Fingerprint, trusted: bool) {
        self.fingerprints.insert(fingerprint, trusted);
    }

    /// True when the fingerprint is marked trusted.
    pub fn is_trusted(&self, fingerprint: &Fingerprint) -> bool {
        self.fingerprints.get(fingerprint).copied().unwrap_or(false)
    }

    /// The instance tag of the session libotr's OTRL_INSTAG_BEST would pick.
    pub fn current_instance(&self) -> u32 {
        let rank =
            |s: &Session| s.rank(s.secure().is_some_and(|x| self.is_trusted(&x.fingerprint)));
        self.sessions
            .iter()
            .max_by_key(|(_, s)| rank(s))
            .map_or(0, |(tag, _)| *tag)
    }

    /// The current session, if any exists.
    pub fn current(&self) -> Option<&Session> {
        self.sessions.get(&self.current_instance())
    }

    /// True when the current session is encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.current().is_some_and(Session::is_encrypted)
    }

    /// Sends a user message: encrypted when private, else per policy (tag, hold, or refuse).
    pub fn write(&mut self, account: &Account, text: &str, now: u64) -> Out {
        let instance = self.current_instance();
        let state = self.sessions.get(&instance).map(|s| &s.msg);
        match state {
            Some(MsgState::Encrypted(_)) => {
                self.send_data(account, instance, text.as_bytes(), &[], 0, now)
            }
            Some(MsgState::Finished) => vec![Event::Problem(Problem::ConnectionEnded)],
            _ if account.policy.contains(Policy::REQUIRE_ENCRYPTION) => {
                self.pending.push(text.to_owned());
                let mut out = self.init(account);
                out.push(Event::Problem(Problem::EncryptionRequired));
                out
            }
            _ => {
                let mut text = text.to_owned();
                if account.policy.contains(Policy::SEND_WHITESPACE_TAG)
                    && self.offer != Offer::Rejected
                    && !account.policy.versions().is_empty()
                {
                    text.push_str(&message::whitespace_tag(account.policy.versions()));
                    self.offer = Offer::Sent;
                }
                vec![Event::Inject(text)]
            }
        }
    }

    /// Sends TLVs (and optional text) in the given encrypted session (for SMP and extensions).
    pub fn send_tlvs(&mut self, account: &Account, instance: u32, tlvs: &[Tlv], now: u64) -> Out {
        self.send_data(account, instance, b"", tlvs, FLAG_IGNORE_UNREADABLE, now)
    }

    /// Ends every private conversation (TLV 1) and returns to plaintext.
    pub fn finish(&mut self, account: &Account, now: u64) -> Out {
        let mut out = Vec::new();
        let tags: Vec<u32> = self.sessions.keys().copied().collect();
        for instance in tags {
            let disconnect = [Tlv {
                kind: tlv::DISCONNECTED,
                value: Vec::new(),
            }];
            let was_encrypted = self
                .sessions
                .get(&instance)
                .is_some_and(Session::is_encrypted);
            if was_encrypted {
                out.extend(self.send_data(
                    account,
                    instance,
                    b"",
                    &disconnect,
                    FLAG_IGNORE_UNREADABLE,
                    now,
                ));
                out.push(Event::GoneInsecure {
                    instance,
                    ended: Ended::ByUs,
                });
            }
            if let Some(s) = self.sessions.get_mut(&instance) {
                s.msg = MsgState::Plaintext;
                s.ake = AkeState::None;
            }
        }
        out
    }

    fn send_data(
        &mut self,
        account: &Account,
        instance: u32,
        text: &[u8],
        tlvs: &[Tlv],
        flags: u8,
        now: u64,
    ) -> Out {
        let Some(session) = self.sessions.get_mut(&instance) else {
            return vec![Event::Problem(Problem::SendFailed(OtrError::Malformed(
                "no such session",
            )))];
        };
        let mut all = tlvs.to_vec();
        if let Some(p) = tlv::padding_for(
            text.len() + tlvs.iter().map(|t| 4 + t.value.len()).sum::<usize>(),
            account.padding,
        ) {
            all.push(p);
        }
        let sealed = session.seal((account.instance_tag, instance), flags, text, &all, now);
        let sealed = sealed.and_then(|(v, msg)| {
            fragment::split(
                &msg,
                account.max_message_size,
                v,
                account.instance_tag,
                instance,
            )
        });
        match sealed {
            Ok(frags) => frags.into_iter().map(Event::Inject).collect(),
            Err(e) => vec![Event::Problem(Problem::SendFailed(e))],
        }
    }

    fn inject_encoded(
        account: &Account,
        version: Version,
        theirs: u32,
        bytes: &[u8],
        out: &mut Out,
    ) {
        match fragment::split(
            &armor(bytes),
            account.max_message_size,
            version,
            account.instance_tag,
            theirs,
        ) {
            Ok(frags) => out.extend(frags.into_iter().map(Event::Inject)),
            Err(e) => out.push(Event::Problem(Problem::SendFailed(e))),
        }
    }

    /// Starts an AKE of the best version offered by the peer and allowed by policy.
    fn start_ake(&mut self, account: &Account, offered: Versions, out: &mut Out) {
        let Some(version) = account.policy.best_version(offered) else {
            return;
        };
        let tags = Tags {
            ours: account.instance_tag,
            theirs: 0,
        };
        match ake::start(version, tags) {
            Ok((state, commit)) => {
                self.sessions.entry(0).or_default().ake = state;
                Self::inject_encoded(account, version, 0, &commit, out);
            }
            Err(e) => out.push(Event::Problem(Problem::Ake(e))),
        }
    }

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
                    self.start_ake(account, versions, &mut out);
                }
                if !text.is_empty() {
                    out.push(Event::Message {
                        instance: 0,
                        text,
                        encrypted: false,
                    });
                }
            }
            Ok(Classified::Query(versions)) => self.start_ake(account, versions, &mut out),
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
        let whole = self.sessions.entry(instance).or_default().fragments.add(&f);
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
        let session = self.sessions.entry(instance).or_default();
        let inherits = matches!(msg.body, Body::DhKey { .. } | Body::DhCommit { .. });
        if let (Some(master), AkeState::None, true) = (master_waiting, &session.ake, inherits) {
            // libotr copies the master's AKE to the child that answers our DH-Commit.
            session.ake = master;
        }
        let tags = Tags {
            ours: account.instance_tag,
            theirs: instance,
        };
        let version = msg.header.version;
        match session.ake.handle(msg, &account.key, tags) {
            Err(e) => out.push(Event::Problem(Problem::Ake(e))),
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
                    self.fingerprints.entry(est.fingerprint).or_insert(false);
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
        let session = self.sessions.entry(instance).or_default();
        if !session.is_encrypted() {
            if !ignore {
                out.push(Event::Problem(Problem::NotInPrivate));
                out.push(Event::Inject(ERR_NOT_PRIVATE.to_owned()));
            }
            return;
        }
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
            out.push(Event::Tlvs {
                instance,
                tlvs: opened.tlvs,
                extra_key: opened.extra_key,
            });
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

#[cfg(test)]
#[path = "channel_tests.rs"]
mod tests;
