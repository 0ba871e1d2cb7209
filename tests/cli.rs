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

/// Runs otrbot with `stdin` as its standard input.
fn otrbot_with_input(args: &[&str], dir: &Path, stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_otrbot"))
        .args(args)
        .current_dir(dir)
        .env_remove("OTRBOT_ENV")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run otrbot");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn secret_set_with_the_bot_stopped_gives_a_voided_learner_a_new_secret() {
    use otrbot::lesson::{Progress, Stage};
    use otrbot::store::{SecretBytes, Session, Store, Timeouts};
    use std::os::unix::fs::PermissionsExt;
    const JID: &str = "pupil@example.org";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(&file, GOOD).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    let code = bincode::config::standard();
    {
        // A private conversation whose secret the learner typed into the chat: voided.
        let store = Store::open(&data).unwrap();
        store
            .pool_add(&SecretBytes::new(b"a key".to_vec()))
            .unwrap();
        let stage = Stage::Encrypted(Progress::default());
        let mut s = Session::new(stage.name(), "en_GB", 1_000);
        s.lesson_state = bincode::serde::encode_to_vec(&stage, code).unwrap();
        let t = Timeouts {
            warning: 1500,
            session: 1800,
        };
        store.create_session(JID, &s, t).unwrap();
        store.flush().unwrap();
    }
    let set = |jid: &str, input: &str| {
        let args = ["--settings", file.to_str().unwrap(), "secret", "set", jid];
        otrbot_with_input(&args, dir.path(), input)
    };
    let weak = set(JID, "abc\n");
    assert_eq!(weak.status.code(), Some(2), "{weak:?}");
    assert!(
        String::from_utf8_lossy(&weak.stderr).contains("too short"),
        "{weak:?}"
    );
    let nobody = set("nobody@example.org", "Seven violet kites fly\n");
    assert_eq!(nobody.status.code(), Some(2), "{nobody:?}");
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("no session"));
    let out = set(JID, "Seven violet kites fly\n");
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("new shared secret for pupil@example.org")
    );
    let store = Store::open(&data).unwrap();
    let s = store.session(JID).unwrap().unwrap().session;
    assert_eq!(
        s.shared_secret.as_ref().map(|b| b.expose().to_vec()),
        Some(b"Seven violet kites fly".to_vec())
    );
    let (stage, _): (Stage, usize) =
        bincode::serde::decode_from_slice(&s.lesson_state, code).unwrap();
    match stage {
        Stage::Encrypted(p) => assert!(p.secret_set, "the lesson knows of the secret"),
        other => panic!("{other:?}"),
    }
}
