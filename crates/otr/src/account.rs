//! The local account: long-term key, policy, message size limit and instance tag.

use serde::{Deserialize, Serialize};

use super::error::{random_bytes, Result};
use super::keys::PrivateKey;
use super::policy::Policy;

/// Smallest valid instance tag (libotr's OTRL_MIN_VALID_INSTAG).
pub const MIN_INSTANCE_TAG: u32 = 0x100;

/// Our side of every channel: the DSA key and settings (libotr's account + ops).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Account {
    /// The account name shown in query messages (e.g. a JID).
    pub name: String,
    /// The long-term DSA key.
    pub key: PrivateKey,
    /// The OTR policy.
    pub policy: Policy,
    /// Largest message the transport carries (0 = no fragmentation).
    pub max_message_size: usize,
    /// Our v3 instance tag.
    pub instance_tag: u32,
    /// Pad encrypted plaintexts to a multiple of this many bytes with TLV 0 (0 = no padding).
    pub padding: usize,
}

impl Account {
    /// An account with a fresh random instance tag, libotr's default policy and no size limit.
    pub fn new(name: &str, key: PrivateKey) -> Result<Account> {
        Ok(Account {
            name: name.to_owned(),
            key,
            policy: Policy::DEFAULT,
            max_message_size: 0,
            instance_tag: new_instance_tag()?,
            padding: 0,
        })
    }
}

/// A random instance tag >= 0x100.
pub fn new_instance_tag() -> Result<u32> {
    loop {
        let mut b = [0u8; 4];
        random_bytes(&mut b)?;
        let tag = u32::from_be_bytes(b);
        if tag >= MIN_INSTANCE_TAG {
            return Ok(tag);
        }
    }
}
