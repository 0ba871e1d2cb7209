//! What the settings tests share: a minimal valid file and how to load one.

use super::{from_toml, SettingError, Settings};
use std::path::Path;

/// A minimal valid settings file.
pub const GOOD: &str = r#"
[xmpp]
default_account = "bot"
[xmpp.accounts.bot]
jid = "bot@localhost"
password = "pw"
host = "127.0.0.1"
"#;

/// Loads settings text with no environment.
pub fn load(text: &str) -> Result<Settings, SettingError> {
    from_toml(text, Path::new(""), &|_| None)
}

/// The key named when `text` is refused.
pub fn key_of(text: &str) -> String {
    load(text).expect_err("should be refused").key
}
