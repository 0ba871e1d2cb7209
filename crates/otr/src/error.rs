//! Typed errors of the OTR engine.

use thiserror::Error;

/// Everything that can go wrong while parsing or processing OTR data.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum OtrError {
    /// The input ended before a field was complete.
    #[error("truncated OTR message")]
    Truncated,
    /// A field or structure did not have the expected form.
    #[error("malformed OTR message: {0}")]
    Malformed(&'static str),
    /// The base64 payload could not be decoded.
    #[error("invalid base64 in OTR message")]
    Base64,
    /// The protocol version is not 2 or 3.
    #[error("unsupported OTR protocol version {0}")]
    Version(u16),
    /// The message type byte is unknown.
    #[error("unknown OTR message type {0:#04x}")]
    MessageType(u8),
    /// An instance tag broke libotr's rules.
    #[error("invalid instance tag")]
    InstanceTag,
    /// A received group element was outside 2..=p-2.
    #[error("group element out of range")]
    Range,
    /// A MAC did not verify.
    #[error("MAC verification failed")]
    Mac,
    /// A DSA signature did not verify.
    #[error("signature verification failed")]
    Signature,
    /// A hashed value did not match its commitment.
    #[error("hash commitment mismatch")]
    Commitment,
    /// A DSA key was not valid.
    #[error("invalid DSA key: {0}")]
    Key(&'static str),
    /// A data message counter did not increase (replay).
    #[error("data message counter did not increase (replay)")]
    Replay,
    /// A data message referred to keys we do not hold.
    #[error("data message for unknown keys")]
    UnknownKeys,
    /// The operating system could not provide randomness.
    #[error("randomness unavailable")]
    Rng,
    /// A size limit was exceeded.
    #[error("size limit exceeded")]
    TooLarge,
    /// A libotr private-key file could not be read.
    #[error("private key file: {0}")]
    KeyFile(&'static str),
}

/// Result alias for the OTR engine.
pub type Result<T> = core::result::Result<T, OtrError>;

/// Fills `buf` with OS randomness.
pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|_| OtrError::Rng)
}
