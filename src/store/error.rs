//! What can go wrong in the store, as typed errors.

use std::path::PathBuf;

/// A store failure; the command line maps every one to the `Store` exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another process (usually the running bot) holds the store.
    #[error("the store at {} is in use by another process (is the bot running?)", .0.display())]
    Locked(PathBuf),
    /// sled reported an I/O or corruption error.
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    /// The store was written by another schema version.
    #[error(
        "the store has schema version {found}, this otrbot reads version {expected}; \
         use a matching otrbot or move the data directory away"
    )]
    SchemaMismatch {
        /// The version found.
        found: u32,
        /// The version this build reads and writes.
        expected: u32,
    },
    /// The store holds data but no schema version: it was not written by otrbot.
    #[error("the store holds data but no schema version; it was not written by otrbot")]
    NoSchemaVersion,
    /// A stored key or value could not be decoded.
    #[error("cannot decode a record in tree `{tree}`: {reason}")]
    Decode {
        /// The tree the record is in.
        tree: &'static str,
        /// What was wrong with it.
        reason: String,
    },
    /// A value could not be encoded.
    #[error("cannot encode a record: {0}")]
    Encode(String),
    /// The operation needs a session that does not exist.
    #[error("no session for {0}")]
    NoSession(String),
    /// A session for this JID exists already.
    #[error("a session for {0} exists already")]
    SessionExists(String),
    /// No grade with this id is in the outbox.
    #[error("no grade {0} in the outbox")]
    NoGrade(u64),
    /// No pre-generated key is ready.
    #[error("the key pool is empty")]
    PoolEmpty,
    /// A simulated crash: no more writes (crash tests only, feature `failpoints`).
    #[error("the store stopped writing (simulated crash)")]
    Crashed,
    /// A background task of the store has stopped.
    #[error("the key pool filler has stopped")]
    FillerStopped,
}

/// A store result.
pub type Result<T> = std::result::Result<T, Error>;

/// Turns a failed sled transaction into the store error it carries.
pub(crate) fn from_tx(e: sled::transaction::TransactionError<Error>) -> Error {
    match e {
        sled::transaction::TransactionError::Abort(e) => e,
        sled::transaction::TransactionError::Storage(e) => Error::Sled(e),
    }
}
