//! A session with one remote device (libsignal's `SessionRecord`): the current Double Ratchet
//! state and a few archived ones, so that messages sent before a session was replaced still
//! decrypt.

mod cbc;
pub mod state;

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::error::{OmemoError, Result};
use crate::keys::PublicKey;
use crate::random::Random;
use crate::wire::{CiphertextMessage, SignalMessage};
pub use state::{PendingPreKey, SessionState};

/// Archived states kept when a new session replaces the current one.
pub const MAX_ARCHIVED_STATES: usize = 4;

/// A session with one remote device, as plain data the application stores.
#[derive(Clone, Serialize, Deserialize)]
pub struct Session {
    current: SessionState,
    archived: VecDeque<SessionState>,
}

impl Session {
    /// A session whose only state is `state`.
    pub(crate) fn new(state: SessionState) -> Self {
        Session {
            current: state,
            archived: VecDeque::new(),
        }
    }

    /// The current state.
    pub fn current(&self) -> &SessionState {
        &self.current
    }

    /// The peer's identity key in the current state.
    pub fn remote_identity(&self) -> &PublicKey {
        self.current.remote_identity()
    }

    /// Makes `state` current and archives the old one (the oldest archived state goes).
    pub(crate) fn replace(&mut self, state: SessionState) {
        let old = std::mem::replace(&mut self.current, state);
        self.archived.push_front(old);
        self.archived.truncate(MAX_ARCHIVED_STATES);
    }

    /// The state (current first, then archived) started with this X3DH base key.
    pub(crate) fn state_with_base_key(&self, base_key: &PublicKey) -> Option<usize> {
        self.states().position(|s| s.base_key() == base_key)
    }

    fn states(&self) -> impl Iterator<Item = &SessionState> {
        std::iter::once(&self.current).chain(self.archived.iter())
    }

    /// Encrypts the next message. Store the session before sending what this returns: a
    /// restart from an older copy would encrypt with the same message key again.
    pub fn encrypt(
        &mut self,
        plaintext: &[u8],
        local_registration_id: u32,
    ) -> Result<CiphertextMessage> {
        self.current.encrypt(plaintext, local_registration_id)
    }

    /// Decrypts a `SignalMessage` with the current or an archived state; nothing changes
    /// unless it decrypts. A state that decrypts becomes current.
    pub fn decrypt(&mut self, message: &SignalMessage, rng: &mut dyn Random) -> Result<Vec<u8>> {
        let mut first_error = None;
        for index in 0..=self.archived.len() {
            match self.decrypt_with(index, message, rng) {
                Ok(plaintext) => return Ok(plaintext),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or(OmemoError::NoSession))
    }

    /// Decrypts with state `index` (0 is current) on a copy, and keeps the copy on success.
    pub(crate) fn decrypt_with(
        &mut self,
        index: usize,
        message: &SignalMessage,
        rng: &mut dyn Random,
    ) -> Result<Vec<u8>> {
        let mut state = match index {
            0 => self.current.clone(),
            i => self
                .archived
                .get(i - 1)
                .ok_or(OmemoError::NoSession)?
                .clone(),
        };
        let plaintext = state.decrypt(message, rng)?;
        if index == 0 {
            self.current = state;
        } else {
            self.archived.remove(index - 1);
            self.replace(state);
        }
        Ok(plaintext)
    }
}
