//! Reading a settings file: TOML into [`Settings`], environment secrets, relative paths,
//! then the rules of [`super::validate`]; every failure names its key.

use super::env::apply_env;
use super::{paths, validate, LoadError, SettingError, Settings};
use std::path::{Path, PathBuf};

/// The settings file for an environment name: `settings/<env>.toml`.
pub fn path_for_env(env: &str) -> PathBuf {
    Path::new("settings").join(format!("{env}.toml"))
}

/// Reads, parses, applies environment secrets, and validates a settings file.
pub fn load(path: &Path) -> Result<Settings, LoadError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LoadError::NotFound(path.to_owned()))
        }
        Err(e) => return Err(LoadError::Unreadable(path.to_owned(), e)),
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let names: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .collect();
    from_toml_env(&text, base, &|k| std::env::var(k).ok(), &names)
        .map_err(|e| LoadError::Bad(path.to_owned(), e))
}

/// Parses settings text; `env` looks up secrets; relative paths are taken from `base`'s parent.
pub fn from_toml(
    text: &str,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, SettingError> {
    from_toml_env(text, base, env, &[])
}

/// [`from_toml`] with the names of the environment's variables: an
/// `OTRBOT_LTI_SECRET_<KEY>` for a key the file does not list adds consumer `<key>` (in
/// lower case), so the environment alone can configure a consumer.
pub fn from_toml_env(
    text: &str,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    env_names: &[String],
) -> Result<Settings, SettingError> {
    let de = toml::Deserializer::new(text);
    let mut s: Settings = serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        SettingError {
            key: if key == "." {
                "(file)".into()
            } else {
                one_line(&key)
            },
            problem: toml_problem(text, &inner),
        }
    })?;
    apply_env(&mut s, env, env_names);
    let root = resolve_paths(&mut s, base);
    validate(&s)?;
    paths::resolve(&mut s.paths, &root)?;
    Ok(s)
}

/// What a TOML error says, with its line and column; never empty (the parser gives no
/// message for some syntax errors, such as a control character in a comment).
fn toml_problem(text: &str, e: &toml::de::Error) -> String {
    let message = one_line(e.message().trim());
    let message = if message.is_empty() {
        "not valid TOML".to_owned()
    } else {
        message
    };
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            format!("{message} (line {line}, column {column})")
        }
        None => message,
    }
}

/// `text` fit for one line of a terminal or log: line breaks as `; `, other control
/// characters escaped. Keys and problems go through it alike, so a key quoted in a problem
/// reads the same as the key named beside it.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("; "),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

/// Makes relative paths absolute; returns the directory they are relative to.
fn resolve_paths(s: &mut Settings, base: &Path) -> PathBuf {
    // Relative paths in a settings file are relative to the directory the program runs in
    // when the file is under `settings/`, else to the file's own directory.
    let root = if base.file_name().is_some_and(|n| n == "settings") {
        base.parent().unwrap_or(Path::new("."))
    } else {
        base
    };
    let fix = |p: &mut PathBuf| {
        if p.is_relative() && !root.as_os_str().is_empty() {
            *p = root.join(&*p);
        }
    };
    fix(&mut s.store.data_dir);
    if let Some(p) = s.tls.ca_file.as_mut() {
        fix(p);
    }
    for a in s.xmpp.accounts.values_mut() {
        if let Some(p) = a.avatar.as_mut() {
            fix(p);
        }
    }
    root.to_path_buf()
}

#[cfg(test)]
mod tests {
    use crate::settings::from_toml;
    use crate::settings::testing::*;
    use std::path::Path;

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
