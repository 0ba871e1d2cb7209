//! A channel with one contact: libotr's master context and its per-instance children.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::account::Account;
use super::ake::{self, AkeState, Tags};
use super::error::OtrError;
use super::fragment;
use super::keys::Fingerprint;
use super::message::{self, armor, Version, FLAG_IGNORE_UNREADABLE};
use super::policy::{Policy, Versions};
use super::session::{MsgState, Session};
use super::tlv::{self, Tlv};

mod events;
mod receive;
mod sessions;
mod smp;

pub use events::{
    Ended, Event, Offer, Output, Problem, SessionInfo, ERR_AKE_FAILED, ERR_NOT_PRIVATE,
    ERR_UNREADABLE,
};
pub use sessions::{
    AKE_TIMEOUT, FRAGMENT_TIMEOUT, MAX_CHANNEL_FRAGMENTS, MAX_INSTANCES, MAX_UNTRUSTED_FINGERPRINTS,
};

/// All OTR state for one contact; plain data that serialises exactly (serde).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// Sessions by the peer's instance tag (0 = master: version 2 or not yet known).
    sessions: BTreeMap<u32, Session>,
    /// Fingerprints seen on this channel and whether they are trusted.
    fingerprints: BTreeMap<Fingerprint, bool>,
    /// Whitespace-tag offer state.
    offer: Offer,
    /// Messages held until the conversation is private (REQUIRE_ENCRYPTION).
    pending: Vec<String>,
    /// The session chosen with `select_session`, if any (else the best one is used).
    selected: Option<u32>,
}

impl Channel {
    /// A channel with no history.
    pub fn new() -> Channel {
        Channel::default()
    }

    /// The query message for the account's policy (`init` in Protocol::OTR).
    pub fn init(&mut self, account: &Account) -> Output {
        Output::sending(message::default_query(
            account.policy.versions(),
            &account.name,
        ))
    }

    /// Restarts the AKE by sending a query (as Pidgin's "refresh").
    pub fn refresh(&mut self, account: &Account) -> Output {
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

    /// The selected session's instance tag, else the one libotr's OTRL_INSTAG_BEST would pick.
    pub fn current_instance(&self) -> u32 {
        if let Some(tag) = self.selected.filter(|t| self.sessions.contains_key(t)) {
            return tag;
        }
        let rank =
            |s: &Session| s.rank(s.secure().is_some_and(|x| self.is_trusted(&x.fingerprint)));
        self.sessions
            .iter()
            .max_by_key(|(_, s)| rank(s))
            .map_or(0, |(tag, _)| *tag)
    }

    /// The session with this peer instance, if any.
    pub fn session(&self, instance: u32) -> Option<&Session> {
        self.sessions.get(&instance)
    }

    /// The session with this peer instance, mutably (to seal a message with
    /// [`Session::seal`] outside the channel's calls, as a test peer does).
    pub fn session_mut(&mut self, instance: u32) -> Option<&mut Session> {
        self.sessions.get_mut(&instance)
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
    pub fn write(&mut self, account: &Account, text: &str, now: u64) -> Output {
        let instance = self.current_instance();
        let state = self.sessions.get(&instance).map(|s| &s.msg);
        match state {
            Some(MsgState::Encrypted(_)) => {
                self.send_data(account, instance, text.as_bytes(), &[], 0, now)
            }
            Some(MsgState::Finished) => Output::of(Event::Problem(Problem::ConnectionEnded)),
            _ if account.policy.contains(Policy::REQUIRE_ENCRYPTION) => {
                self.pending.push(text.to_owned());
                let mut out = self.init(account);
                out.report(Event::Problem(Problem::EncryptionRequired));
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
                Output::sending(text)
            }
        }
    }

    /// Sends TLVs (and optional text) in the given encrypted session (for SMP and extensions).
    pub fn send_tlvs(
        &mut self,
        account: &Account,
        instance: u32,
        tlvs: &[Tlv],
        now: u64,
    ) -> Output {
        self.send_data(account, instance, b"", tlvs, FLAG_IGNORE_UNREADABLE, now)
    }

    /// Ends every private conversation (TLV 1) and returns to plaintext.
    pub fn finish(&mut self, account: &Account, now: u64) -> Output {
        let mut out = Output::default();
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
                out.append(self.send_data(
                    account,
                    instance,
                    b"",
                    &disconnect,
                    FLAG_IGNORE_UNREADABLE,
                    now,
                ));
                out.report(Event::GoneInsecure {
                    instance,
                    ended: Ended::ByUs,
                });
            }
            if let Some(s) = self.sessions.get_mut(&instance) {
                s.msg = MsgState::Plaintext;
                s.ake = AkeState::None;
                s.smp.reset();
            }
        }
        out
    }

    pub(super) fn send_data(
        &mut self,
        account: &Account,
        instance: u32,
        text: &[u8],
        tlvs: &[Tlv],
        flags: u8,
        now: u64,
    ) -> Output {
        let Some(session) = self.sessions.get_mut(&instance) else {
            return Output::of(Event::Problem(Problem::SendFailed(OtrError::Malformed(
                "no such session",
            ))));
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
            Ok(frags) => Output {
                wire: frags,
                events: Vec::new(),
            },
            Err(e) => Output::of(Event::Problem(Problem::SendFailed(e))),
        }
    }

    pub(super) fn inject_encoded(
        account: &Account,
        version: Version,
        theirs: u32,
        bytes: &[u8],
        out: &mut Output,
    ) {
        match fragment::split(
            &armor(bytes),
            account.max_message_size,
            version,
            account.instance_tag,
            theirs,
        ) {
            Ok(frags) => out.wire.extend(frags),
            Err(e) => out.report(Event::Problem(Problem::SendFailed(e))),
        }
    }

    /// Starts an AKE of the best version offered by the peer and allowed by policy.
    pub(super) fn start_ake(
        &mut self,
        account: &Account,
        offered: Versions,
        now: u64,
        out: &mut Output,
    ) {
        let Some(version) = account.policy.best_version(offered) else {
            return;
        };
        let tags = Tags {
            ours: account.instance_tag,
            theirs: 0,
        };
        match ake::start(version, tags) {
            Ok((state, commit)) => {
                let master = self.sessions.entry(0).or_default();
                master.ake = state;
                master.ake_at = now;
                Self::inject_encoded(account, version, 0, &commit, out);
            }
            Err(e) => out.report(Event::Problem(Problem::Ake(e))),
        }
    }
}

#[cfg(test)]
mod ake_tests;
#[cfg(test)]
mod tests;
