//! `otrbot whitelist …` / `sessions …` against a running bot (through its admin socket) and
//! with the bot stopped (on the store directly).

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_otrbot");

/// settings/test.toml for the loopback Prosody, with a fresh bot account and its own data directory.
fn settings(dir: &Path) -> PathBuf {
    let (jid, password) = support::prosody::fresh_account("adminbot");
    let text = support::prosody::settings_text(&jid, &password, &dir.join("data"));
    let path = dir.join("test.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn otrbot(settings: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--settings")
        .arg(settings)
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn listed(settings: &Path) -> Vec<(String, String, String)> {
    let out = ok(&otrbot(settings, &["whitelist", "list", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["jid"].as_str().unwrap().to_owned(),
                e["locale"].as_str().unwrap().to_owned(),
                e["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn start_bot(settings: &Path, data: &Path) -> Child {
    let mut bot = Command::new(BIN)
        .args(["run", "--settings"])
        .arg(settings)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let sock = data.join("admin.sock");
    support::process::wait_ready(&mut bot, "the admin socket", || {
        std::os::unix::net::UnixStream::connect(&sock).is_ok()
    });
    bot
}

#[test]
fn whitelist_add_reaches_a_running_bot_and_works_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let data = dir.path().join("data");

    // A learner's session made before the bot starts (the LTI side will make them later).
    {
        otrbot::bot::ensure_private_dir(&data).unwrap();
        let st = otrbot::store::Store::open(&data).unwrap();
        st.pool_add(&otrbot::store::SecretBytes::new(b"k".to_vec()))
            .unwrap();
        let now = otrbot::clock::unix_now();
        let t = otrbot::store::Timeouts {
            warning: 3600,
            session: 7200,
        };
        let sess = otrbot::store::Session::new("awaiting_otr", "nl_NL", now);
        st.create_session("pupil@example.org", &sess, t).unwrap();
    }

    let bot = start_bot(&s, &data);
    // The data directory and the socket are the owner's only.
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("admin.sock")), 0o600);

    let out = ok(&otrbot(
        &s,
        &["whitelist", "add", "Learner@Example.org", "--locale", "de"],
    ));
    assert!(out.contains("whitelisted learner@example.org"), "{out}");
    // While the bot holds the store nobody else can open it: this answer came over the socket.
    assert_eq!(
        listed(&s),
        vec![("learner@example.org".into(), "de".into(), "cli".into())]
    );
    let table = ok(&otrbot(&s, &["whitelist", "list"]));
    assert!(table.starts_with("JID"), "{table}");
    assert!(
        table.contains("learner@example.org  de      cli"),
        "{table}"
    );
    let table = ok(&otrbot(&s, &["sessions", "list"]));
    assert!(
        table.contains("pupil@example.org  awaiting_otr  nl_NL"),
        "{table}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&ok(&otrbot(&s, &["sessions", "list", "--json"]))).unwrap();
    assert_eq!(v[0]["jid"], "pupil@example.org");
    assert_eq!(v[0]["has_secret"], false);
    assert!(ok(&otrbot(&s, &["sessions", "kill", "pupil@example.org"])).contains("ended"));
    assert_eq!(ok(&otrbot(&s, &["sessions", "list"])).trim(), "no sessions");

    // Mistakes are clear errors with the InvalidArgument exit code (2).
    let bad = otrbot(&s, &["whitelist", "add", "not-a-jid"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("Jabber ID"));
    let bad = otrbot(
        &s,
        &["whitelist", "add", "a@example.org", "--locale", "english"],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a locale"));
    let missing = otrbot(&s, &["sessions", "kill", "nobody@example.org"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("has no session"));

    let log = support::process::stop(bot);
    assert!(log.contains("admin request"), "{log}");
    assert!(log.contains("WhitelistAdd"), "{log}");
    assert!(!data.join("admin.sock").exists());

    // Stopped: the same commands work on the store directly, and the entry survived.
    assert_eq!(
        listed(&s),
        vec![("learner@example.org".into(), "de".into(), "cli".into())]
    );
    ok(&otrbot(&s, &["whitelist", "add", "second@example.org"]));
    let out = ok(&otrbot(
        &s,
        &["whitelist", "remove", "learner@example.org", "--json"],
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["type"], "removed");
    assert_eq!(
        listed(&s),
        vec![("second@example.org".into(), "en_GB".into(), "cli".into())]
    );
    let again = otrbot(&s, &["whitelist", "remove", "learner@example.org"]);
    assert_eq!(again.status.code(), Some(2));

    // A stale socket file (a bot that died) does not confuse the commands or the next bot.
    std::os::unix::net::UnixListener::bind(data.join("admin.sock")).unwrap();
    assert_eq!(listed(&s).len(), 1);
    let bot = start_bot(&s, &data);
    assert_eq!(listed(&s).len(), 1);
    support::process::stop(bot);
}

#[test]
fn help_is_there() {
    for cmd in [
        &["whitelist", "add", "--help"][..],
        &["whitelist", "remove", "--help"],
        &["whitelist", "list", "--help"],
        &["sessions", "list", "--help"],
        &["sessions", "kill", "--help"],
    ] {
        let o = Command::new(BIN).args(cmd).output().unwrap();
        assert!(o.status.success());
        let text = String::from_utf8(o.stdout).unwrap();
        assert!(text.contains("--json"), "{cmd:?}: {text}");
    }
}
