//! The store as crash tests open it: again and again while a killed process still holds it.

use otrbot::store::{Error, Store};
use std::path::Path;
use std::time::{Duration, Instant};

/// Opens the store in `dir`, waiting up to 10 s for another process's lock to go.
pub fn open_retrying(dir: &Path) -> Store {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        match Store::open(dir) {
            Ok(s) => return s,
            Err(Error::Locked(_)) if Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("cannot open the store: {e}"),
        }
    }
}

/// Opens the store's sled database directly, waiting up to 10 s for a handle just dropped in
/// this process (sled's own threads may still hold its lock for a moment).
pub fn open_sled_retrying(dir: &Path) -> sled::Db {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        match sled::open(otrbot::store::db_path(dir)) {
            Ok(db) => return db,
            Err(_) if Instant::now() < until => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("cannot open the store's database: {e}"),
        }
    }
}
