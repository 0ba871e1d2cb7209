//! What can go wrong, each cause named.

/// An OMEMO engine error. Nothing stored changes when a call returns one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OmemoError {
    /// Bytes that do not parse as the named structure.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// A message of a libsignal version other than 3 (OMEMO 0.3).
    #[error("unsupported message version {0}")]
    Version(u8),
    /// A public key that is not a 33-byte `0x05`-prefixed Curve25519 key.
    #[error("not a Curve25519 public key")]
    BadKey,
    /// A Diffie-Hellman result of all zeroes: the peer sent a low-order point.
    #[error("a Diffie-Hellman result was zero (low-order public key)")]
    LowOrder,
    /// The signed prekey's XEdDSA signature does not verify under the identity key.
    #[error("the signed prekey's signature does not verify")]
    BadSignature,
    /// The message's MAC does not match: altered, or not from this session.
    #[error("the message authentication code does not match")]
    BadMac,
    /// A `SignalMessage` from a device there is no session with.
    #[error("no session with this device")]
    NoSession,
    /// A `PreKeySignalMessage` names a signed prekey this account no longer has.
    #[error("unknown signed prekey {0}")]
    UnknownSignedPreKey(u32),
    /// A `PreKeySignalMessage` names a one-time prekey already used (or never made).
    #[error("unknown or already used one-time prekey {0}")]
    UnknownPreKey(u32),
    /// A message whose key was already used or discarded (a replay or a very old message).
    #[error("message {0} of its chain was already received or its key discarded")]
    DuplicateMessage(u32),
    /// A message further ahead in its chain than the skipped-key limit allows.
    #[error("message {counter} is {skip} ahead of its chain (limit {limit})")]
    TooFarAhead {
        /// The message's counter.
        counter: u32,
        /// How many keys would have to be skipped.
        skip: u32,
        /// The limit.
        limit: u32,
    },
    /// The payload or the message body does not decrypt (wrong key, tag or padding).
    #[error("decryption failed")]
    Decrypt,
    /// The `<encrypted>` element has no key for this device.
    #[error("the message has no key for device {0}")]
    NotForThisDevice(u32),
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Rng,
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, OmemoError>;
