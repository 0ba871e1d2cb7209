//! What a channel reports: events for the application, problems, and the offer state.

use serde::{Deserialize, Serialize};

use crate::error::OtrError;
use crate::keys::Fingerprint;
use crate::message::Version;
use crate::smp::{SmpError, SmpEvent};
use crate::tlv::Tlv;

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
    /// The call needs an encrypted session (SMP, extra symmetric key).
    NotEncrypted,
    /// The SMP call was refused (e.g. a question with a NUL byte).
    Smp(SmpError),
}

/// What one channel call produced: wire messages to send and events for the application,
/// as separate outputs (quinn-proto style).
///
/// Returned by value rather than queued in the channel for polling: the channel is the state
/// the caller stores, and nothing it produced may sit in it unsent (or change its stored form).
#[must_use = "wire messages must be sent to the contact"]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// Messages to send to the contact, in this order (one entry per fragment).
    pub wire: Vec<String>,
    /// What happened, in order, for the application.
    pub events: Vec<Event>,
}

impl Output {
    /// True when there is nothing to send and nothing to report.
    pub fn is_empty(&self) -> bool {
        self.wire.is_empty() && self.events.is_empty()
    }

    /// An output of one event and nothing to send.
    pub(crate) fn of(event: Event) -> Output {
        Output {
            wire: Vec::new(),
            events: vec![event],
        }
    }

    /// An output of one message to send.
    pub(crate) fn sending(wire: String) -> Output {
        Output {
            wire: vec![wire],
            events: Vec::new(),
        }
    }

    /// Queues a message to send after those already here.
    pub(crate) fn send(&mut self, wire: String) {
        self.wire.push(wire);
    }

    /// Adds an event after those already here.
    pub(crate) fn report(&mut self, event: Event) {
        self.events.push(event);
    }

    /// Appends another call's output after this one's.
    pub(crate) fn append(&mut self, other: Output) {
        self.wire.extend(other.wire);
        self.events.extend(other.events);
    }
}

/// What the application must act on, reported by every channel call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
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
    /// SMP progress (Protocol::OTR's on_smp_event): a request, a step, or the outcome.
    Smp {
        /// The peer instance of the session.
        instance: u32,
        /// What happened; [`SmpEvent::outcome`] tells whether the exchange ended.
        event: SmpEvent,
        /// Progress in percent, as libotr reports it.
        percent: u8,
    },
    /// The peer agreed an extra symmetric key with us (TLV 8, libotr's received_symkey).
    Symkey {
        /// The peer instance of the session.
        instance: u32,
        /// The key: SHA-256(0xFF || MPI(s)) of the data message's keys.
        key: [u8; 32],
        /// What the key is for (the TLV's first four bytes).
        use_: u32,
        /// Use-specific data (the rest of the TLV).
        use_data: Vec<u8>,
    },
    /// TLVs of types this engine does not handle itself (above 8).
    Tlvs {
        /// The sending instance.
        instance: u32,
        /// The records.
        tlvs: Vec<Tlv>,
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

/// Text of the error we send when a received AKE message does not verify.
pub const ERR_AKE_FAILED: &str =
    "?OTR Error: Setting up the private conversation failed (the authenticated key exchange did not verify). Please try again.";

/// What `Channel::sessions` lists about one session (one peer instance).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// The peer's instance tag (0 = master: version 2 or not yet known).
    pub instance: u32,
    /// True while encrypted.
    pub encrypted: bool,
    /// True when the peer ended it (libotr's FINISHED).
    pub finished: bool,
    /// The protocol version, while encrypted.
    pub version: Option<Version>,
    /// The peer's fingerprint, while encrypted.
    pub fingerprint: Option<Fingerprint>,
    /// True when that fingerprint is trusted.
    pub trusted: bool,
    /// True when an SMP exchange is under way.
    pub smp_in_progress: bool,
    /// True when this is the session `write` uses.
    pub current: bool,
}
