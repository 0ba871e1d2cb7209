//! `otrbot run` serves the LTI pages in the same process: `/is_up`, a launch signed by
//! oauthlib against the settings' consumer, a clean stop on SIGTERM; and no start without
//! ROCKET_SECRET_KEY in the release profile. Started from another directory, it finds its
//! templates and translations; an LTI consumer can come from the environment alone.

mod lti_common;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_otrbot");

/// Settings for the loopback Prosody (a fresh bot account), with the LTI public URL on `port`.
fn settings(dir: &Path, port: u16) -> PathBuf {
    let (jid, password) = support::prosody::fresh_account("ltibot");
    let text = support::prosody::with_lti_port(
        &support::prosody::settings_text(&jid, &password, &dir.join("data")),
        port,
    );
    let path = dir.join("test.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `otrbot run` on settings `s` in `cwd` with `env`, ROCKET_SECRET_KEY and ROCKET_PROFILE
/// unset, once its pages listen on `port`.
fn run(s: &Path, cwd: &Path, env: &[(&str, &str)], port: u16) -> std::process::Child {
    let mut bot = Command::new(BIN)
        .args(["run", "--settings"])
        .arg(s)
        .envs(env.iter().copied())
        .env_remove("ROCKET_SECRET_KEY")
        .env_remove("ROCKET_PROFILE")
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    support::process::wait_ready(&mut bot, "the LTI port", || {
        support::process::listening(port)
    });
    bot
}

/// A learner's launch by consumer `key`, signed by oauthlib; it must be accepted (303).
fn launch(b: &mut lti_common::Browser, port: u16, key: &str, secret: &str) -> lti_common::Page {
    let body = lti_common::sign(&[lti_common::ToSign {
        url: format!("http://127.0.0.1:{port}/launch"),
        key: key.into(),
        secret: secret.into(),
        params: lti_common::learner("u1"),
        timestamp: None,
        nonce: None,
    }])
    .remove(0);
    let resp = b.request("POST", "/launch", Some(&body));
    assert_eq!(resp.status, 303, "{}{}", resp.head, resp.body);
    resp
}

#[test]
fn run_serves_the_pages_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let port = support::process::free_port();
    let s = settings(dir.path(), port);
    let bot = run(&s, Path::new(env!("CARGO_MANIFEST_DIR")), &[], port);
    let mut b = lti_common::Browser::new(port);
    let up = b.get("/is_up");
    assert_eq!(up.status, 200, "{}", up.head);
    let resp = launch(&mut b, port, "otrbot-test", "otrbot-test-secret");
    assert!(
        resp.head.contains("set-cookie: otrbot_lti="),
        "{}",
        resp.head
    );
    let log = support::process::stop(bot);
    assert!(
        log.contains("ROCKET_SECRET_KEY is not set"),
        "warned about the key: {log}"
    );
    assert!(log.contains("running: LTI pages"), "{log}");
}

#[test]
fn release_profile_needs_a_secret_key() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path(), 0);
    let out = Command::new(BIN)
        .args(["run", "--settings"])
        .arg(&s)
        .env("ROCKET_PROFILE", "release")
        .env_remove("ROCKET_SECRET_KEY")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "bad setting: {err}");
    assert!(err.contains("ROCKET_SECRET_KEY"), "{err}");
}

#[test]
fn a_taken_lti_port_stops_the_bot_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let s = settings(dir.path(), port);
    let out = Command::new(BIN)
        .args(["run", "--settings"])
        .arg(&s)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "bad setting: {err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(err.contains("lti.port"), "{err}");
}

/// Started from a directory that holds none of otrbot's files, with the settings elsewhere
/// naming where they are, the bot serves the pages; a consumer whose secret comes only from
/// the environment can launch. (Where they are found when not named, and the error that
/// names `paths.templates`, are unit tests of settings::paths.)
#[test]
fn run_from_another_directory_with_a_consumer_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let port = support::process::free_port();
    let s = settings(dir.path(), port);
    // The repository's own settings directory is not where these settings are: they name the
    // paths in the source tree, as an install's would (tests/support/prosody.rs does that).
    let text = std::fs::read_to_string(&s).unwrap();
    assert!(text.contains("\n[paths]\ntemplates = "), "{text}");
    let check = Command::new(BIN)
        .args(["check-config", "--offline", "--settings"])
        .arg(&s)
        .env(
            "OTRBOT_LTI_SECRET_CANVAS",
            "a canvas secret from the environment",
        )
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{check:?}");
    assert!(out.contains("(2 consumers)"), "{out}");
    let canvas = (
        "OTRBOT_LTI_SECRET_CANVAS",
        "a canvas secret from the environment",
    );
    let bot = run(&s, elsewhere.path(), &[canvas], port);
    let mut b = lti_common::Browser::new(port);
    launch(
        &mut b,
        port,
        "canvas",
        "a canvas secret from the environment",
    );
    let page = b.get("/jid");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("name=\"jid\""), "{}", page.body);
    support::process::stop(bot);
}
