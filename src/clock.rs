//! The application's clock: Unix seconds, read in one place, a seam for tests, and dates as
//! people read them (UTC civil time through the `time` crate).

use std::time::{SystemTime, UNIX_EPOCH};
use time::macros::format_description;
use time::OffsetDateTime;

/// The current time in Unix seconds (0 if the system clock is before 1970).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Where the time comes from: the system clock when running, a set time in tests.
pub trait Clock: Send + Sync {
    /// The current time in Unix seconds.
    fn now(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        unix_now()
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS` (UTC); the bare number when out of `time`'s range.
pub fn utc(t: u64) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    i64::try_from(t)
        .ok()
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|d| d.format(format).ok())
        .unwrap_or_else(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20");
        assert_eq!(utc(253_402_300_799), "9999-12-31 23:59:59");
        // Past year 9999 (a corrupt timestamp): the number, not a panic.
        assert_eq!(utc(253_402_300_800), "253402300800");
        assert_eq!(utc(u64::MAX), u64::MAX.to_string());
    }
}
