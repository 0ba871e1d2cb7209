//! Expiry indexes: keys `expiry (u64 big-endian) || record key`, read by one range scan.

use super::deadline;
use super::error::{from_tx, Error, Result};
use sled::transaction::ConflictableTransactionError;
use sled::Transactional;

/// The index key for `record_key` expiring at `at`.
pub fn key(at: u64, record_key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + record_key.len());
    k.extend_from_slice(&at.to_be_bytes());
    k.extend_from_slice(record_key);
    k
}

/// Every entry of `index` expired at `now`: (index key, record key, expiry).
pub fn expired(
    index: &sled::Tree,
    tree: &'static str,
    now: u64,
) -> Result<Vec<(sled::IVec, Vec<u8>, u64)>> {
    let range = match deadline::due_bound(now) {
        Some(end) => index.range(..end.to_vec()),
        None => index.range::<Vec<u8>, _>(..),
    };
    range
        .map(|kv| {
            let (k, _) = kv?;
            let at: [u8; 8] =
                k.get(..8)
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| Error::Decode {
                        tree,
                        reason: "key too short".into(),
                    })?;
            let record = k[8..].to_vec();
            Ok((k, record, u64::from_be_bytes(at)))
        })
        .collect()
}

/// Reads the expiry kept in a record, inside a transaction.
pub type ExpiryOf<'a> =
    &'a dyn Fn(&[u8]) -> std::result::Result<u64, ConflictableTransactionError<Error>>;

/// Removes every record of `records` whose entry in `index` expired at `now`, unless it was
/// kept again with another expiry since (`expiry_of` reads a record's); returns how many.
pub fn prune(
    records: &sled::Tree,
    index: &sled::Tree,
    index_name: &'static str,
    now: u64,
    expiry_of: ExpiryOf<'_>,
) -> Result<usize> {
    let due = expired(index, index_name, now)?;
    if due.is_empty() {
        return Ok(0);
    }
    (records, index)
        .transaction(|(r, ix)| {
            let mut removed = 0;
            for (ik, key, at) in &due {
                ix.remove(ik)?;
                if let Some(v) = r.get(key)? {
                    if expiry_of(&v)? == *at {
                        r.remove(key.as_slice())?;
                        removed += 1;
                    }
                }
            }
            Ok(removed)
        })
        .map_err(from_tx)
}
