//! Typed, versioned persistence in sled: everything that must survive a restart.
//!
//! Trees and their layouts are listed in [`trees`]. Values are bincode 2 (serde) behind the
//! schema version ([`codec`]); the version is also kept in the meta tree and checked at open.
//! Updates that touch several trees are single sled transactions. Times are Unix seconds
//! passed in by the caller; the store reads no clock. OTR keys, channel states and lesson
//! states are opaque bytes here: their owners encode them.

pub mod codec;
mod commit;
pub mod deadline;
mod error;
mod expiry;
pub mod keypool;
mod lti;
mod migrate;
mod model;
mod omemo;
pub use omemo::OmemoRole;
pub mod scanner;
mod sessions;
pub mod trees;
mod visits;
mod whitelist;

pub use commit::LessonCommit;
pub use deadline::{DeadlineKind, Due};
pub use error::{Error, Result};
pub use keypool::{decode_dsa_key, default_dsa_key, KeyGenerator, KeyPool};
pub use model::{
    Attempts, Deadlines, GradeNote, GradeRequest, LtiBinding, SecretBytes, Session, StoredSession,
    Timeouts, WhitelistEntry, WhitelistSource,
};
pub use visits::Claim;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use trees::Trees;

/// The sled directory inside the data directory.
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join("store")
}

/// How a store is opened.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Make every update durable before it returns (default). Channel state and the grade
    /// outbox are always flushed; turn this off only for bulk loads (benchmarks).
    pub flush_every_write: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            flush_every_write: true,
        }
    }
}

/// The open store; cheap to clone (all clones share one database).
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    t: Trees,
    path: PathBuf,
    opts: Options,
    /// Writes left before the simulated crash ([`Store::crash_after_writes`]).
    writes_left: Arc<AtomicI64>,
    /// OTR channel states written so far (for tests that count them).
    #[cfg(test)]
    channel_writes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Store {
    /// Opens (or creates) the store in `data_dir` and checks its schema version.
    pub fn open(data_dir: &Path) -> Result<Store> {
        Self::open_with(data_dir, Options::default())
    }

    /// Opens the store with explicit options.
    pub fn open_with(data_dir: &Path, opts: Options) -> Result<Store> {
        let path = db_path(data_dir);
        let db = sled::Config::new()
            .path(&path)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(ref io) if io.to_string().contains("could not acquire lock") => {
                    Error::Locked(path.clone())
                }
                e => Error::Sled(e),
            })?;
        let t = Trees::open(&db)?;
        let store = Store {
            db,
            t,
            path,
            opts,
            writes_left: Arc::new(AtomicI64::new(i64::MAX)),
            #[cfg(test)]
            channel_writes: Default::default(),
        };
        store.check_schema()?;
        Ok(store)
    }

    fn check_schema(&self) -> Result<()> {
        match self.t.meta.get(trees::SCHEMA_KEY)? {
            Some(v) => {
                let raw: [u8; 4] = v.as_ref().try_into().map_err(|_| Error::Decode {
                    tree: trees::META,
                    reason: "schema version is not 4 bytes".into(),
                })?;
                let found = u32::from_be_bytes(raw);
                if found == 1 {
                    return migrate::from_v1(&self.db);
                }
                if found != codec::SCHEMA_VERSION {
                    return Err(Error::SchemaMismatch {
                        found,
                        expected: codec::SCHEMA_VERSION,
                    });
                }
            }
            None => {
                for name in trees::DATA_TREES {
                    if !self.db.open_tree(name)?.is_empty() {
                        return Err(Error::NoSchemaVersion);
                    }
                }
                self.t
                    .meta
                    .insert(trees::SCHEMA_KEY, &codec::SCHEMA_VERSION.to_be_bytes())?;
                self.db.flush()?;
            }
        }
        Ok(())
    }

    /// The sled directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes everything to disk; returns once it is durable.
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    /// How many OTR channel states were written through this store (all its clones).
    #[cfg(test)]
    pub(crate) fn channel_writes(&self) -> usize {
        self.channel_writes
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Like [`flush`](Self::flush), without blocking the async runtime.
    pub async fn flush_async(&self) -> Result<()> {
        self.db.flush_async().await?;
        Ok(())
    }

    /// Fails every write from the `n`+1-th on, as if the process had died there: crash
    /// tests run the real code paths and then reopen the store (feature `failpoints`).
    #[cfg(feature = "failpoints")]
    pub fn crash_after_writes(&self, n: i64) {
        self.writes_left.store(n, Ordering::SeqCst);
    }

    /// Lets a write through unless a simulated crash has happened.
    fn write_gate(&self) -> Result<()> {
        if self.writes_left.fetch_sub(1, Ordering::SeqCst) <= 0 {
            return Err(Error::Crashed);
        }
        Ok(())
    }

    /// Asks a transaction to flush on commit when every write must be durable.
    fn durable(&self, tx: &sled::transaction::TransactionalTree) {
        if self.opts.flush_every_write {
            tx.flush();
        }
    }
}

/// Aborts a sled transaction with a store error.
fn abort<T>(e: Error) -> sled::transaction::ConflictableTransactionResult<T, Error> {
    Err(sled::transaction::ConflictableTransactionError::Abort(e))
}

/// Encodes inside a transaction, aborting on failure.
fn enc<T: serde::Serialize + ?Sized>(
    v: &T,
) -> std::result::Result<
    zeroize::Zeroizing<Vec<u8>>,
    sled::transaction::ConflictableTransactionError<Error>,
> {
    codec::encode(v).map_err(sled::transaction::ConflictableTransactionError::Abort)
}

/// Decodes inside a transaction, aborting on failure.
fn dec<T: serde::de::DeserializeOwned>(
    tree: &'static str,
    bytes: &[u8],
) -> std::result::Result<T, sled::transaction::ConflictableTransactionError<Error>> {
    codec::decode(tree, bytes).map_err(sled::transaction::ConflictableTransactionError::Abort)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_store_gets_the_version_and_reopens() {
        let d = tempfile::tempdir().unwrap();
        drop(Store::open(d.path()).unwrap());
        let s = Store::open(d.path()).unwrap();
        assert_eq!(
            s.t.meta.get(trees::SCHEMA_KEY).unwrap().unwrap().as_ref(),
            codec::SCHEMA_VERSION.to_be_bytes()
        );
    }

    #[test]
    fn second_open_is_locked() {
        let d = tempfile::tempdir().unwrap();
        let _s = Store::open(d.path()).unwrap();
        assert!(matches!(Store::open(d.path()), Err(Error::Locked(_))));
    }
}
