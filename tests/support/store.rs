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
