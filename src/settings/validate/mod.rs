//! The rules a loaded settings file must meet, one module per part of the file; each
//! failure names its key.

mod lesson;
mod lti;
mod xmpp;

use super::{SettingError, Settings};
use std::net::IpAddr;

/// A broken rule: `key` and what is wrong with it.
fn bad(key: impl Into<String>, problem: impl Into<String>) -> SettingError {
    SettingError {
        key: key.into(),
        problem: problem.into(),
    }
}

/// `localhost` or a loopback address.
fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Checks every rule; the first broken one is returned.
pub fn validate(s: &Settings) -> Result<(), SettingError> {
    xmpp::accounts(s)?;
    xmpp::tls(s)?;
    lesson::lesson(s)?;
    lesson::whitelist(s)?;
    lti::lti(s)?;
    store(s)?;
    logging(s)
}

/// `[store]`: the data directory and the key pool.
fn store(s: &Settings) -> Result<(), SettingError> {
    if s.store.data_dir.as_os_str().is_empty() {
        return Err(bad("store.data_dir", "must not be empty"));
    }
    if !(1..=1000).contains(&s.store.key_pool_size) {
        return Err(bad("store.key_pool_size", "must be between 1 and 1000"));
    }
    if s.store.key_threads > 256 {
        return Err(bad(
            "store.key_threads",
            "must be between 0 (one per core) and 256",
        ));
    }
    if !(0..=19).contains(&s.store.key_nice) {
        return Err(bad("store.key_nice", "must be between 0 and 19"));
    }
    Ok(())
}

/// `[logging]`: the output and a level filter that parses.
fn logging(s: &Settings) -> Result<(), SettingError> {
    if !matches!(
        s.logging.output.as_str(),
        "terminal" | "journald" | "syslog"
    ) {
        return Err(bad(
            "logging.output",
            "must be \"terminal\", \"journald\" or \"syslog\"",
        ));
    }
    crate::logging::filter(&s.logging.level).map_err(|e| bad("logging.level", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::settings::testing::*;

    #[test]
    fn store_settings() {
        assert_eq!(
            key_of(&format!("{GOOD}[store]\nkey_pool_size = 0\n")),
            "store.key_pool_size"
        );
        assert_eq!(
            key_of(&format!("{GOOD}[store]\nkey_threads = 1000\n")),
            "store.key_threads"
        );
        for nice in ["-1", "20"] {
            assert_eq!(
                key_of(&format!("{GOOD}[store]\nkey_nice = {nice}\n")),
                "store.key_nice"
            );
        }
        let ok = load(&format!("{GOOD}[store]\nkey_threads = 3\nkey_nice = 0\n")).unwrap();
        assert_eq!((ok.store.key_threads(), ok.store.key_nice), (3, 0));
    }

    #[test]
    fn logging_settings() {
        assert_eq!(
            key_of(&format!("{GOOD}[logging]\noutput = \"file\"\n")),
            "logging.output"
        );
        assert_eq!(
            key_of(&format!("{GOOD}[logging]\nlevel = \"loud=[\"\n")),
            "logging.level"
        );
        // A directive after a space with a multi-byte character made tracing-subscriber
        // panic (fuzz crash): named instead.
        assert_eq!(
            key_of(&format!("{GOOD}[logging]\nlevel = \"info, lߗx=debug\"\n")),
            "logging.level"
        );
    }
}
