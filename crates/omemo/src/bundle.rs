//! A device's bundle: what others need to start a session with it (XEP-0384 v0.3 §4.3).

use crate::error::{OmemoError, Result};
use crate::keys::PublicKey;
use crate::xeddsa;

/// A device's published keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    /// The identity key.
    pub identity_key: PublicKey,
    /// The signed prekey's id.
    pub signed_pre_key_id: u32,
    /// The signed prekey.
    pub signed_pre_key: PublicKey,
    /// XEdDSA signature of the serialised signed prekey under the identity key.
    pub signed_pre_key_signature: Vec<u8>,
    /// The one-time prekeys, by id.
    pub pre_keys: Vec<(u32, PublicKey)>,
}

impl Bundle {
    /// Checks the signed prekey's signature under the identity key.
    pub fn verify(&self) -> Result<()> {
        let signed = self.signed_pre_key.serialize();
        if xeddsa::verify(&self.identity_key, &signed, &self.signed_pre_key_signature) {
            Ok(())
        } else {
            Err(OmemoError::BadSignature)
        }
    }
}
