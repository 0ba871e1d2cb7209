//! The binary's command line: help, exit codes, and settings errors naming their key.

use std::path::Path;
use std::process::{Command, Output};

fn otrbot(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_otrbot"))
        .args(args)
        .current_dir(dir)
        .env_remove("OTRBOT_ENV")
        .output()
        .expect("run otrbot")
}

const GOOD: &str = r#"
[xmpp]
default_account = "bot"
[xmpp.accounts.bot]
jid = "otrbot@localhost"
password = "pw"
host = "127.0.0.1"
[store]
data_dir = "data"
"#;

#[test]
fn help_lists_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let out = otrbot(&["--help"], dir.path());
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["run", "check-config"] {
        assert!(
            text.contains(&format!("  {cmd} ")),
            "--help lacks {cmd}:\n{text}"
        );
    }
    assert!(!text.to_lowercase().contains("not implemented"));
    let out = otrbot(&["run", "--help"], dir.path());
    assert!(out.status.success());
}

#[test]
fn run_with_missing_key_names_it_and_exits_bad_setting() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(&file, GOOD.replace("password = \"pw\"\n", "")).unwrap();
    let out = otrbot(&["--settings", file.to_str().unwrap(), "run"], dir.path());
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("xmpp.accounts.bot.password"), "{err}");
    assert!(
        !dir.path().join("data").exists(),
        "nothing is created on bad settings"
    );
}

#[test]
fn missing_settings_file_exits_no_settings() {
    let dir = tempfile::tempdir().unwrap();
    // No settings/production.toml in this directory: the default environment is production.
    let out = otrbot(&["run"], dir.path());
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("settings/production.toml"), "{err}");
}

#[test]
fn environment_picks_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("settings")).unwrap();
    std::fs::write(dir.path().join("settings/staging.toml"), GOOD).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_otrbot"))
        .args(["check-config", "--offline"])
        .env("OTRBOT_ENV", "staging")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("otrbot@localhost"));
}

#[test]
fn bad_argument_exits_invalid_argument() {
    let dir = tempfile::tempdir().unwrap();
    let out = otrbot(&["--no-such-flag"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let out = otrbot(&["frobnicate"], dir.path());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bad_value_names_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(
        &file,
        format!("{GOOD}[lesson]\nsession_timeout = 10\nwarning_timeout = 20\n"),
    )
    .unwrap();
    let out = otrbot(
        &["--settings", file.to_str().unwrap(), "check-config"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lesson.warning_timeout"));
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    // `otrbot sessions list --json | head -0`: the reader is gone before anything is written.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(&file, GOOD).unwrap();
    for args in [
        &["sessions", "list", "--json"][..],
        &["sessions", "list"],
        &["whitelist", "list", "--json"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_otrbot"))
            .args(["--settings", file.to_str().unwrap()])
            .args(args)
            .current_dir(dir.path())
            .env_remove("OTRBOT_ENV")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run otrbot");
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: nothing said: {err}");
    }
}
