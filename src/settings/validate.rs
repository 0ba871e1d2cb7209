//! The rules a loaded settings file must meet; each failure names its key.

use super::{SettingError, Settings};
use crate::i18n::is_valid_locale;
use crate::xmpp::jid::parse_bare;
use std::io::Read;
use std::net::IpAddr;

/// The largest avatar accepted, in bytes.
pub const MAX_AVATAR_BYTES: u64 = 128 * 1024;

fn bad(key: impl Into<String>, problem: impl Into<String>) -> SettingError {
    SettingError {
        key: key.into(),
        problem: problem.into(),
    }
}

/// Checks every rule; the first broken one is returned.
pub fn validate(s: &Settings) -> Result<(), SettingError> {
    xmpp(s)?;
    tls(s)?;
    lesson(s)?;
    for (jid, locale) in &s.whitelist {
        let key = format!("whitelist.\"{jid}\"");
        parse_bare(jid).map_err(|e| bad(&key, e))?;
        locale_ok(&key, locale)?;
    }
    lti(s)?;
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
    logging(s)
}

fn xmpp(s: &Settings) -> Result<(), SettingError> {
    if s.xmpp.accounts.is_empty() {
        return Err(bad("xmpp.accounts", "at least one account is needed"));
    }
    if !s.xmpp.accounts.contains_key(&s.xmpp.default_account) {
        return Err(bad(
            "xmpp.default_account",
            format!(
                "no account named {:?} in xmpp.accounts",
                s.xmpp.default_account
            ),
        ));
    }
    for (name, a) in &s.xmpp.accounts {
        let key = |k: &str| format!("xmpp.accounts.{name}.{k}");
        parse_bare(&a.jid).map_err(|e| bad(key("jid"), e))?;
        match &a.password {
            None => {
                return Err(bad(
                    key("password"),
                    format!(
                        "missing (set it here or in {})",
                        super::env_name(&["OTRBOT_XMPP", name, "PASSWORD"])
                    ),
                ))
            }
            Some(p) if p.is_empty() => return Err(bad(key("password"), "must not be empty")),
            Some(_) => {}
        }
        if a.host.as_deref().is_some_and(|h| h.trim().is_empty()) {
            return Err(bad(key("host"), "must not be empty when given"));
        }
        if a.port == 0 {
            return Err(bad(key("port"), "must be between 1 and 65535"));
        }
        if let Some(p) = &a.avatar {
            let meta = std::fs::metadata(p)
                .map_err(|e| bad(key("avatar"), format!("cannot read {}: {e}", p.display())))?;
            if !meta.is_file() {
                return Err(bad(key("avatar"), "must be a regular file"));
            }
            if meta.len() > MAX_AVATAR_BYTES {
                return Err(bad(
                    key("avatar"),
                    format!("larger than {MAX_AVATAR_BYTES} bytes"),
                ));
            }
            let mut head = Vec::new();
            std::fs::File::open(p)
                .and_then(|f| f.take(4).read_to_end(&mut head))
                .map_err(|e| bad(key("avatar"), e.to_string()))?;
            if !(head.starts_with(b"\x89PNG") || head.starts_with(b"\xff\xd8\xff")) {
                return Err(bad(key("avatar"), "must be a PNG or JPEG image"));
            }
        }
    }
    Ok(())
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn tls(s: &Settings) -> Result<(), SettingError> {
    if !matches!(s.tls.min_version.as_str(), "1.2" | "1.3") {
        return Err(bad("tls.min_version", "must be \"1.2\" or \"1.3\""));
    }
    if let Some(ca) = &s.tls.ca_file {
        if !ca.is_file() {
            return Err(bad("tls.ca_file", format!("no file at {}", ca.display())));
        }
    }
    if !s.tls.enabled {
        if !s.tls.allow_plaintext_loopback {
            return Err(bad(
                "tls.enabled",
                "plain text is refused unless tls.allow_plaintext_loopback is set for a loopback test server",
            ));
        }
        let acct = s.account();
        let host = acct.host.as_deref().unwrap_or("");
        if !is_loopback(host) {
            return Err(bad(
                "tls.allow_plaintext_loopback",
                format!(
                    "plain text is only allowed to a loopback server; xmpp.accounts.{}.host is {host:?}",
                    s.xmpp.default_account
                ),
            ));
        }
    }
    Ok(())
}

fn locale_ok(key: &str, locale: &str) -> Result<(), SettingError> {
    if is_valid_locale(locale) {
        Ok(())
    } else {
        Err(bad(key, format!("{locale:?} is not a locale like en_GB")))
    }
}

fn lesson(s: &Settings) -> Result<(), SettingError> {
    let l = &s.lesson;
    locale_ok("lesson.default_locale", &l.default_locale)?;
    if l.default_secret.as_deref().is_some_and(str::is_empty) {
        return Err(bad("lesson.default_secret", "must not be empty when given"));
    }
    if l.session_timeout == 0 {
        return Err(bad("lesson.session_timeout", "must be at least 1 second"));
    }
    if l.warning_timeout >= l.session_timeout {
        return Err(bad(
            "lesson.warning_timeout",
            format!(
                "must be less than lesson.session_timeout ({})",
                l.session_timeout
            ),
        ));
    }
    if l.timeout_check_interval == 0 || l.timeout_check_interval > l.warning_timeout.max(1) {
        return Err(bad(
            "lesson.timeout_check_interval",
            "must be at least 1 second and at most lesson.warning_timeout",
        ));
    }
    if !(1..=1000).contains(&l.type_speed) {
        return Err(bad(
            "lesson.type_speed",
            "must be between 1 and 1000 characters per second",
        ));
    }
    Ok(())
}

fn is_http_url(u: &str) -> bool {
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split('/').next().unwrap_or("");
        !host.is_empty() && !r.contains(['?', '#', ' '])
    })
}

fn lti(s: &Settings) -> Result<(), SettingError> {
    if !is_http_url(&s.lti.public_url) {
        return Err(bad(
            "lti.public_url",
            "must be an http:// or https:// URL without query, like https://otr.example.org",
        ));
    }
    if !s.lti.css_url.is_empty() && !is_http_url(&s.lti.css_url) && !s.lti.css_url.starts_with('/')
    {
        return Err(bad(
            "lti.css_url",
            "must be empty, a path, or an http(s) URL",
        ));
    }
    for (key, secret) in &s.lti.consumers {
        if key.is_empty() || key.len() > 255 {
            return Err(bad(
                "lti.consumers",
                "a consumer key must be 1 to 255 characters",
            ));
        }
        if secret.len() < 8 {
            return Err(bad(
                format!("lti.consumers.{key}"),
                format!(
                    "the secret must be at least 8 characters (set it here or in {})",
                    super::env_name(&["OTRBOT_LTI_SECRET", key])
                ),
            ));
        }
    }
    if !(1..=3600).contains(&s.lti.timestamp_window) {
        return Err(bad(
            "lti.timestamp_window",
            "must be between 1 and 3600 seconds",
        ));
    }
    if let Some(port) = direct_port(&s.lti.public_url) {
        if port != s.lti.port {
            return Err(bad(
                "lti.public_url",
                format!(
                    "names port {port} on this machine, but the pages listen on port {} \
                     (lti.port): the LMS would sign its launches for another address",
                    s.lti.port
                ),
            ));
        }
    }
    if !(1..=300).contains(&s.lti.grade_timeout) {
        return Err(bad(
            "lti.grade_timeout",
            "must be between 1 and 300 seconds",
        ));
    }
    if s.lti.frame_ancestors.is_empty()
        || s.lti.frame_ancestors.len() > 64
        || !s.lti.frame_ancestors.iter().all(|o| is_frame_source(o))
    {
        return Err(bad(
            "lti.frame_ancestors",
            "must list 1 to 64 origins such as \"https://canvas.example.edu\" (scheme and host, \
             no path), or \"*\" for any",
        ));
    }
    Ok(())
}

/// The port of a public URL that reaches the pages directly: plain http to a loopback host
/// with the port written out (no proxy in between, so it must be the port they listen on).
fn direct_port(url: &str) -> Option<u16> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split('/').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|a| a.is_loopback());
    loopback.then(|| port.parse().ok()).flatten()
}

/// `*`, `'self'`, or an origin: `http(s)://host[:port]` (a `*.` wildcard host allowed), as
/// CSP's `frame-ancestors` takes it; nothing that could end the directive.
fn is_frame_source(o: &str) -> bool {
    if o == "*" || o == "'self'" {
        return true;
    }
    let Some(host) = o
        .strip_prefix("https://")
        .or_else(|| o.strip_prefix("http://"))
    else {
        return false;
    };
    !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '*'))
}

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
    use crate::settings::{from_toml, SettingError, Settings};
    use std::path::Path;

    const GOOD: &str = r#"
[xmpp]
default_account = "bot"
[xmpp.accounts.bot]
jid = "bot@localhost"
password = "pw"
host = "127.0.0.1"
"#;

    fn load(text: &str) -> Result<Settings, SettingError> {
        from_toml(text, Path::new(""), &|_| None)
    }

    fn key_of(text: &str) -> String {
        load(text).expect_err("should be refused").key
    }

    #[test]
    fn minimal_file_gets_defaults() {
        let s = load(GOOD).unwrap();
        assert_eq!(s.lesson.warning_timeout, 1500);
        assert_eq!(s.lesson.session_timeout, 1800);
        assert_eq!(s.lesson.type_speed, 20);
        assert!(s.tls.enabled);
        assert!(!s.logging.log_user_msgs);
        assert_eq!(s.account().port, 5222);
    }

    #[test]
    fn missing_password_names_key_and_env() {
        let t = GOOD.replace("password = \"pw\"\n", "");
        let e = load(&t).unwrap_err();
        assert_eq!(e.key, "xmpp.accounts.bot.password");
        assert!(
            e.problem.contains("OTRBOT_XMPP_BOT_PASSWORD"),
            "{}",
            e.problem
        );
    }

    #[test]
    fn secrets_from_environment() {
        let t =
            GOOD.replace("password = \"pw\"\n", "") + "[lti.consumers]\n\"moodle-1\" = \"short\"\n";
        let s = from_toml(&t, Path::new(""), &|k| match k {
            "OTRBOT_XMPP_BOT_PASSWORD" => Some("frometc".into()),
            "OTRBOT_LTI_SECRET_MOODLE_1" => Some("a long enough secret".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.account().password.as_deref(), Some("frometc"));
        assert_eq!(s.lti.consumers["moodle-1"], "a long enough secret");
    }

    #[test]
    fn a_consumer_from_the_environment_alone() {
        let names = [
            "OTRBOT_LTI_SECRET_CANVAS".to_owned(),
            "OTRBOT_LTI_SECRET_MOODLE_1".to_owned(),
            "OTRBOT_LTI_SECRET_".to_owned(),
            "PATH".to_owned(),
        ];
        let t = GOOD.to_owned() + "[lti.consumers]\n\"moodle-1\" = \"short\"\n";
        let env = |k: &str| match k {
            "OTRBOT_LTI_SECRET_CANVAS" => Some("canvas secret 123".into()),
            "OTRBOT_LTI_SECRET_MOODLE_1" => Some("a long enough secret".into()),
            "OTRBOT_LTI_SECRET_" => Some("nobody's".into()),
            _ => None,
        };
        let s = super::super::from_toml_env(&t, Path::new(""), &env, &names).unwrap();
        assert_eq!(s.lti.consumers.len(), 2, "{:?}", s.lti.consumers.keys());
        assert_eq!(s.lti.consumers["canvas"], "canvas secret 123");
        assert_eq!(s.lti.consumers["moodle-1"], "a long enough secret");
        // A short secret from the environment alone is named by its key too.
        let short = |k: &str| (k == "OTRBOT_LTI_SECRET_CANVAS").then(|| "short".to_owned());
        let e = super::super::from_toml_env(GOOD, Path::new(""), &short, &names).unwrap_err();
        assert_eq!(e.key, "lti.consumers.canvas");
        assert!(
            e.problem.contains("OTRBOT_LTI_SECRET_CANVAS"),
            "{}",
            e.problem
        );
    }

    #[test]
    fn missing_required_key_is_named() {
        let t = GOOD.replace("jid = \"bot@localhost\"\n", "");
        let e = load(&t).unwrap_err();
        assert_eq!(e.key, "xmpp.accounts.bot");
        assert!(e.problem.contains("jid"), "{}", e.problem);
        assert_eq!(key_of("[lesson]\n"), "(file)");
    }

    #[test]
    fn syntax_errors_say_what_and_where() {
        // A control character in a comment: the TOML parser itself gives no message.
        let e = load(&format!("{GOOD}# a\x1fb\n")).unwrap_err();
        assert_eq!(e.key, "(file)");
        assert_eq!(e.problem, "not valid TOML (line 8, column 4)");
        let e = load("[xmpp\n").unwrap_err();
        assert_eq!(e.key, "(file)");
        assert!(
            e.problem.starts_with("invalid table header"),
            "{}",
            e.problem
        );
        assert!(e.problem.ends_with("(line 1, column 6)"), "{}", e.problem);
    }

    #[test]
    fn unknown_key_is_refused() {
        let e = load(&format!("{GOOD}\n[lesson]\nwarning_timout = 3\n")).unwrap_err();
        assert_eq!(e.key, "lesson.warning_timout");
        assert!(e.problem.contains("warning_timout"), "{}", e.problem);
        // A quoted key with a line break and an escape character is named on one line, as
        // the problem quotes it (found by the settings fuzz target).
        let e = load(&format!("{GOOD}\n[lesson]\n\"a\\nb\\u001b[2J\" = 3\n")).unwrap_err();
        assert_eq!(e.key, "lesson.a; b\\u{1b}[2J");
        assert!(!e.problem.contains(['\n', '\x1b']), "{}", e.problem);
        assert!(e.problem.contains("a; b\\u{1b}[2J"), "{}", e.problem);
    }

    #[test]
    fn wrong_type_is_named() {
        assert_eq!(
            key_of(&format!("{GOOD}[lesson]\ntype_speed = \"fast\"\n")),
            "lesson.type_speed"
        );
    }

    #[test]
    fn default_account_must_exist() {
        assert_eq!(
            key_of(&GOOD.replace("default_account = \"bot\"", "default_account = \"x\"")),
            "xmpp.default_account"
        );
    }

    #[test]
    fn bad_jid() {
        assert_eq!(
            key_of(&GOOD.replace("bot@localhost", "not a jid")),
            "xmpp.accounts.bot.jid"
        );
    }

    #[test]
    fn timeouts_ordered() {
        let t = format!("{GOOD}[lesson]\nwarning_timeout = 1800\nsession_timeout = 1800\n");
        assert_eq!(key_of(&t), "lesson.warning_timeout");
        let t = format!("{GOOD}[lesson]\ntimeout_check_interval = 0\n");
        assert_eq!(key_of(&t), "lesson.timeout_check_interval");
        let t = format!("{GOOD}[lesson]\ntype_speed = 0\n");
        assert_eq!(key_of(&t), "lesson.type_speed");
    }

    #[test]
    fn locales_checked() {
        assert_eq!(
            key_of(&format!("{GOOD}[lesson]\ndefault_locale = \"english\"\n")),
            "lesson.default_locale"
        );
        let t = format!("{GOOD}[whitelist]\n\"a@b.org\" = \"xx-YY\"\n");
        assert_eq!(key_of(&t), "whitelist.\"a@b.org\"");
        let t = format!("{GOOD}[whitelist]\n\"nobody\" = \"en_GB\"\n");
        assert_eq!(key_of(&t), "whitelist.\"nobody\"");
    }

    #[test]
    fn plaintext_only_to_loopback() {
        let t = format!("{GOOD}[tls]\nenabled = false\n");
        assert_eq!(key_of(&t), "tls.enabled");
        let t = format!("{GOOD}[tls]\nenabled = false\nallow_plaintext_loopback = true\n");
        assert!(load(&t).is_ok());
        let t = t.replace("127.0.0.1", "xmpp.example.org");
        assert_eq!(key_of(&t), "tls.allow_plaintext_loopback");
    }

    #[test]
    fn tls_settings() {
        assert_eq!(
            key_of(&format!("{GOOD}[tls]\nmin_version = \"1.0\"\n")),
            "tls.min_version"
        );
        assert_eq!(
            key_of(&format!("{GOOD}[tls]\nca_file = \"/nonexistent.pem\"\n")),
            "tls.ca_file"
        );
    }

    #[test]
    fn lti_settings() {
        assert_eq!(
            key_of(&format!("{GOOD}[lti]\npublic_url = \"otr.example.org\"\n")),
            "lti.public_url"
        );
        assert_eq!(
            key_of(&format!("{GOOD}[lti.consumers]\ncanvas = \"\"\n")),
            "lti.consumers.canvas"
        );
        assert_eq!(
            key_of(&format!("{GOOD}[lti]\ncss_url = \"javascript:x\"\n")),
            "lti.css_url"
        );
        assert_eq!(
            key_of(&format!("{GOOD}[lti]\ntimestamp_window = 0\n")),
            "lti.timestamp_window"
        );
        assert_eq!(
            key_of(&format!("{GOOD}[lti]\ngrade_timeout = 0\n")),
            "lti.grade_timeout"
        );
        for bad in [
            "[]",
            "[\"canvas.example.edu\"]",
            "[\"https://lms.example.org/path\"]",
            "[\"https://lms.example.org; script-src *\"]",
        ] {
            assert_eq!(
                key_of(&format!("{GOOD}[lti]\nframe_ancestors = {bad}\n")),
                "lti.frame_ancestors",
                "{bad}"
            );
        }
        assert_eq!(
            key_of(&format!(
                "{GOOD}[lti]\npublic_url = \"http://127.0.0.1:9000\"\nport = 8000\n"
            )),
            "lti.public_url"
        );
        assert!(load(&format!(
            "{GOOD}[lti]\npublic_url = \"http://127.0.0.1:9000\"\nport = 9000\n"
        ))
        .is_ok());
        assert!(load(&format!(
            "{GOOD}[lti]\npublic_url = \"https://otr.example.org:8443/x\"\nport = 8000\n"
        ))
        .is_ok());
        let s = load(&format!(
            "{GOOD}[lti]\nframe_ancestors = [\"https://canvas.example.edu\", \"https://*.moodle.example.org:8443\"]\n"
        ))
        .unwrap();
        assert_eq!(s.lti.frame_ancestors.len(), 2);
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
    fn avatar_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.png");
        std::fs::write(&p, b"not an image").unwrap();
        let t = GOOD.replace("host =", &format!("avatar = {:?}\nhost =", p));
        assert_eq!(key_of(&t), "xmpp.accounts.bot.avatar");
        std::fs::write(&p, b"\x89PNG\r\n\x1a\n....").unwrap();
        assert!(load(&t).is_ok());
        // A device reports no size and never ends: refused without reading it.
        for dev in ["/dev/zero", "/dev/null"] {
            let t = GOOD.replace("host =", &format!("avatar = {dev:?}\nhost ="));
            let e = load(&t).unwrap_err();
            assert_eq!(e.key, "xmpp.accounts.bot.avatar");
            assert_eq!(e.problem, "must be a regular file");
        }
    }

    #[test]
    fn shipped_files_are_valid() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for f in [
            "settings/sample.toml",
            "settings/development.toml",
            "settings/test.toml",
        ] {
            let text = std::fs::read_to_string(root.join(f)).unwrap();
            // The files' relative paths may not exist on this machine: check everything else.
            let text = text.replace("ca_file =", "# ca_file =");
            from_toml(&text, &root.join("settings"), &|_| None)
                .unwrap_or_else(|e| panic!("{f}: {e}"));
        }
    }
}
