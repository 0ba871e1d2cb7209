//! Settings from `settings/<env>.toml`, validated at start; secrets may come from the environment.

mod env;
mod load;
mod paths;
#[cfg(test)]
mod testing;
mod validate;

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

pub use env::env_name;
pub use load::{from_toml, from_toml_env, load, path_for_env};
pub use paths::Paths;
pub use validate::validate;

/// The environment variable that picks `settings/<env>.toml`.
pub const ENV_VAR: &str = "OTRBOT_ENV";
/// The environment used when none is chosen.
pub const DEFAULT_ENV: &str = "production";

/// Everything the bot is configured with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// XMPP accounts and which one to use.
    pub xmpp: Xmpp,
    /// TLS for the XMPP connection.
    #[serde(default)]
    pub tls: Tls,
    /// The lesson: locale, timeouts, typing.
    #[serde(default)]
    pub lesson: Lesson,
    /// JIDs allowed at start, with their locale.
    #[serde(default)]
    pub whitelist: BTreeMap<String, String>,
    /// Format strings used in texts (`project_name`, `bot_alias`, ...).
    #[serde(default)]
    pub format: Format,
    /// The LTI tool provider.
    #[serde(default)]
    pub lti: Lti,
    /// Where data lives and how many keys are kept ready.
    #[serde(default)]
    pub store: Store,
    /// Log output, level and privacy.
    #[serde(default)]
    pub logging: Logging,
    /// Where the shipped templates and translations are.
    #[serde(default)]
    pub paths: Paths,
}

/// XMPP accounts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Xmpp {
    /// The name of the account in `accounts` that the bot uses.
    pub default_account: String,
    /// Accounts by name.
    pub accounts: BTreeMap<String, Account>,
}

/// One XMPP account.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// The bot's bare JID.
    pub jid: String,
    /// The password; may instead come from `OTRBOT_XMPP_<NAME>_PASSWORD`.
    #[serde(default)]
    pub password: Option<String>,
    /// Connect to this host instead of the one DNS gives.
    #[serde(default)]
    pub host: Option<String>,
    /// Connect to this port (default 5222).
    #[serde(default = "default_port")]
    pub port: u16,
    /// A PNG or JPEG published as the bot's avatar.
    #[serde(default)]
    pub avatar: Option<PathBuf>,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("jid", &self.jid)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("avatar", &self.avatar)
            .finish()
    }
}

fn default_port() -> u16 {
    5222
}

/// TLS settings for the XMPP connection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    /// Use STARTTLS with certificate checks (default true).
    pub enabled: bool,
    /// The lowest TLS version accepted: "1.2" or "1.3".
    pub min_version: String,
    /// Extra CA certificates (PEM) to trust besides the system's.
    pub ca_file: Option<PathBuf>,
    /// Allow plain text; only accepted when the server host is loopback (test servers).
    pub allow_plaintext_loopback: bool,
}

impl Default for Tls {
    fn default() -> Self {
        Tls {
            enabled: true,
            min_version: "1.2".into(),
            ca_file: None,
            allow_plaintext_loopback: false,
        }
    }
}

/// How the lesson runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lesson {
    /// Locale for learners whose launch did not say one.
    pub default_locale: String,
    /// A shared secret given to every learner (tests only).
    pub default_secret: Option<String>,
    /// The bot starts SMP itself once OTR is up.
    pub may_start_smp: bool,
    /// Seconds of inactivity before a warning.
    pub warning_timeout: u64,
    /// Seconds of inactivity before the session expires.
    pub session_timeout: u64,
    /// Seconds between scans for due warnings and expiries.
    pub timeout_check_interval: u64,
    /// Send replies after a typing delay, with chat states.
    pub scheduled_say: bool,
    /// Typing speed in characters per second when `scheduled_say` is on.
    pub type_speed: u32,
    /// The lesson of a session whose launch does not choose one (`custom_protocol`): `otr`
    /// or `omemo`.
    pub protocol: crate::lesson::Protocol,
}

impl Default for Lesson {
    fn default() -> Self {
        Lesson {
            default_locale: "en_GB".into(),
            default_secret: None,
            may_start_smp: false,
            warning_timeout: 1500,
            session_timeout: 1800,
            timeout_check_interval: 60,
            scheduled_say: true,
            type_speed: 20,
            protocol: crate::lesson::Protocol::Otr,
        }
    }
}

/// Format strings available to every text.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Format {
    /// The project's name, as learners see it.
    pub project_name: String,
    /// How the bot calls itself.
    pub bot_alias: String,
    /// Where learners can read more (may be empty).
    pub help_url: String,
}

impl Default for Format {
    fn default() -> Self {
        Format {
            project_name: "otrbot".into(),
            bot_alias: "OTR bot".into(),
            help_url: String::new(),
        }
    }
}

/// The LTI 1.1 tool provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lti {
    /// The public base URL the LMS uses (behind nginx), e.g. `https://otr.example.org`.
    pub public_url: String,
    /// A stylesheet applied to every page (may be empty).
    pub css_url: String,
    /// Consumer key → secret; a secret may come from `OTRBOT_LTI_SECRET_<KEY>`.
    pub consumers: BTreeMap<String, String>,
    /// Seconds a launch timestamp may differ from our clock.
    pub timestamp_window: u64,
    /// The origins (`https://lms.example.org`) whose pages may show ours in a frame; `*`: any.
    pub frame_ancestors: Vec<String>,
    /// Seconds one try to send a grade may take before it counts as failed.
    pub grade_timeout: u64,
    /// The address the pages listen on (nginx proxies to it).
    pub address: std::net::IpAddr,
    /// The port the pages listen on.
    pub port: u16,
}

impl Default for Lti {
    fn default() -> Self {
        Lti {
            public_url: "http://127.0.0.1:8000".into(),
            css_url: String::new(),
            consumers: BTreeMap::new(),
            timestamp_window: 300,
            frame_ancestors: vec!["*".into()],
            grade_timeout: 10,
            address: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            port: 8000,
        }
    }
}

/// The data directory and the key pool.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Store {
    /// The sled directory (created readable by its owner only).
    pub data_dir: PathBuf,
    /// How many OTR keys the pool keeps ready.
    pub key_pool_size: usize,
    /// Threads that make keys for the pool; 0: one per core.
    pub key_threads: usize,
    /// The key threads' niceness (0 to 19): learners' turns go first.
    pub key_nice: i32,
}

impl Store {
    /// The key threads to run: `key_threads`, or one per core.
    pub fn key_threads(&self) -> usize {
        match self.key_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

impl Default for Store {
    fn default() -> Self {
        Store {
            data_dir: "data".into(),
            key_pool_size: 8,
            key_threads: 0,
            key_nice: 10,
        }
    }
}

/// Log output and privacy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Logging {
    /// "terminal", "journald" or "syslog".
    pub output: String,
    /// A tracing filter: a level ("info") or directives ("otrbot=debug,warn").
    pub level: String,
    /// Whether learners' messages may appear in logs at all.
    pub log_user_msgs: bool,
}

impl Default for Logging {
    fn default() -> Self {
        Logging {
            output: "terminal".into(),
            level: "info".into(),
            log_user_msgs: false,
        }
    }
}

/// A setting that is missing or wrong, by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    /// The dotted key, such as `xmpp.accounts.bot.jid`.
    pub key: String,
    /// What is wrong with it.
    pub problem: String,
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "setting `{}`: {}", self.key, self.problem)
    }
}

impl std::error::Error for SettingError {}

/// Why settings could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The file is not there.
    NotFound(PathBuf),
    /// The file could not be read.
    Unreadable(PathBuf, std::io::Error),
    /// A key is missing or bad.
    Bad(PathBuf, SettingError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::NotFound(p) => write!(
                f,
                "no settings file at {} (choose one with --settings PATH or {ENV_VAR}=<env>; \
                 settings/sample.toml documents every key)",
                p.display()
            ),
            LoadError::Unreadable(p, e) => write!(f, "cannot read {}: {e}", p.display()),
            LoadError::Bad(p, e) => write!(f, "{}: {e}", p.display()),
        }
    }
}

impl std::error::Error for LoadError {}

impl Settings {
    /// The account the bot uses (validated to exist).
    pub fn account(&self) -> &Account {
        &self.xmpp.accounts[&self.xmpp.default_account]
    }
}
