//! OTR message kinds and the protocol version: the spec's unencoded messages (plaintext,
//! whitespace tags, queries, errors) and its encoded messages (the AKE and Data messages).

use serde::{Deserialize, Serialize};

use crate::error::{OtrError, Result};

mod encoded;
mod unencoded;

pub use encoded::{
    armor, data_authenticated, Body, DataMessage, Header, Message, FLAG_IGNORE_UNREADABLE,
    TYPE_DATA, TYPE_DH_COMMIT, TYPE_DH_KEY, TYPE_REVEAL_SIG, TYPE_SIGNATURE,
};
pub use unencoded::{
    classify, default_query, query_message, whitespace_tag, Classified, ERROR_PREFIX, TAG_BASE,
    TAG_V1, TAG_V2, TAG_V3,
};

/// A protocol version the engine speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Version {
    /// OTR version 2 (no instance tags).
    V2,
    /// OTR version 3 (instance tags).
    V3,
}

impl Version {
    /// The SHORT protocol version on the wire.
    pub fn number(self) -> u16 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }

    /// The version with this wire number.
    pub fn from_number(n: u16) -> Result<Version> {
        match n {
            2 => Ok(Version::V2),
            3 => Ok(Version::V3),
            other => Err(OtrError::Version(other)),
        }
    }
}

#[cfg(test)]
mod tests;
