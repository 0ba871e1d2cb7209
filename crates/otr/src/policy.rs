//! OTR policies with libotr's bit values and presets.

use serde::{Deserialize, Serialize};

use super::message::Version;

/// A libotr `OtrlPolicy` bit set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Policy(pub u32);

impl Policy {
    /// Allow protocol version 2.
    pub const ALLOW_V2: Policy = Policy(0x02);
    /// Refuse to send unencrypted messages.
    pub const REQUIRE_ENCRYPTION: Policy = Policy(0x08);
    /// Advertise OTR with a whitespace tag on plaintext.
    pub const SEND_WHITESPACE_TAG: Policy = Policy(0x10);
    /// Start the AKE on receiving a whitespace tag.
    pub const WHITESPACE_START_AKE: Policy = Policy(0x20);
    /// Start the AKE on receiving an OTR error message.
    pub const ERROR_START_AKE: Policy = Policy(0x40);
    /// Allow protocol version 3.
    pub const ALLOW_V3: Policy = Policy(0x04);
    /// Never use OTR.
    pub const NEVER: Policy = Policy(0x00);
    /// Use OTR only when asked.
    pub const MANUAL: Policy = Policy(0x02 | 0x04);
    /// Advertise OTR and start it whenever possible.
    pub const OPPORTUNISTIC: Policy = Policy(0x02 | 0x04 | 0x10 | 0x20 | 0x40);
    /// Require OTR for every message.
    pub const ALWAYS: Policy = Policy(0x02 | 0x04 | 0x08 | 0x20 | 0x40);
    /// libotr's default (`OTRL_POLICY_DEFAULT` = opportunistic).
    pub const DEFAULT: Policy = Policy::OPPORTUNISTIC;

    /// True when every bit of `other` is set.
    pub fn contains(self, other: Policy) -> bool {
        self.0 & other.0 == other.0
    }

    /// True when `version` is allowed.
    pub fn allows(self, version: Version) -> bool {
        match version {
            Version::V2 => self.contains(Policy::ALLOW_V2),
            Version::V3 => self.contains(Policy::ALLOW_V3),
        }
    }

    /// The best version allowed by us and offered by the peer.
    pub fn best_version(self, offered: Versions) -> Option<Version> {
        if offered.v3 && self.allows(Version::V3) {
            Some(Version::V3)
        } else if offered.v2 && self.allows(Version::V2) {
            Some(Version::V2)
        } else {
            None
        }
    }

    /// The versions this policy allows.
    pub fn versions(self) -> Versions {
        Versions {
            v2: self.allows(Version::V2),
            v3: self.allows(Version::V3),
        }
    }
}

impl core::ops::BitOr for Policy {
    type Output = Policy;
    fn bitor(self, rhs: Policy) -> Policy {
        Policy(self.0 | rhs.0)
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::DEFAULT
    }
}

/// A set of protocol versions (as offered in a query or whitespace tag).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versions {
    /// Version 2 offered.
    pub v2: bool,
    /// Version 3 offered.
    pub v3: bool,
}

impl Versions {
    /// True when no supported version is in the set.
    pub fn is_empty(self) -> bool {
        !self.v2 && !self.v3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_match_libotr() {
        // Values from libotr 4.1.1's proto.h.
        assert_eq!(Policy::OPPORTUNISTIC.0, 0x76);
        assert_eq!(Policy::MANUAL.0, 0x06);
        assert_eq!(Policy::ALWAYS.0, 0x6e);
        assert_eq!(Policy::DEFAULT, Policy::OPPORTUNISTIC);
        assert!(Policy::ALWAYS.contains(Policy::REQUIRE_ENCRYPTION));
    }

    #[test]
    fn best_version_prefers_v3() {
        let both = Versions { v2: true, v3: true };
        assert_eq!(Policy::MANUAL.best_version(both), Some(Version::V3));
        assert_eq!(Policy::ALLOW_V2.best_version(both), Some(Version::V2));
        assert_eq!(
            Policy::ALLOW_V3.best_version(Versions {
                v2: true,
                v3: false
            }),
            None
        );
        assert_eq!(Policy::NEVER.best_version(both), None);
    }
}
