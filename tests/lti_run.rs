//! `otrbot run` serves the LTI pages in the same process: `/is_up`, a launch signed by
//! oauthlib against the settings' consumer, a clean stop on SIGTERM; and no start without
//! ROCKET_SECRET_KEY in the release profile.

mod lti_common;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_otrbot");

/// Settings for the loopback Prosody (a fresh bot account), with the LTI public URL on `port`.
fn settings(dir: &Path, port: u16) -> PathBuf {
    let (jid, password) = support::prosody::fresh_account("ltibot");
    let text: String = support::prosody::settings_text(&jid, &password, &dir.join("data"))
        .lines()
        .map(|l| {
            if l.starts_with("public_url") {
                format!("public_url = \"http://127.0.0.1:{port}\"\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let path = dir.join("test.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn run_serves_the_pages_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = settings(dir.path(), port);
    let mut bot = Command::new(BIN)
        .args(["run", "--settings"])
        .arg(&s)
        .env("ROCKET_PORT", port.to_string())
        .env_remove("ROCKET_SECRET_KEY")
        .env_remove("ROCKET_PROFILE")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    support::process::wait_ready(&mut bot, "the LTI port", || {
        support::process::listening(port)
    });
    let mut b = lti_common::Browser::new(port);
    let up = b.get("/is_up");
    assert_eq!(up.status, 200, "{}", up.head);
    let body = lti_common::sign(&[lti_common::ToSign {
        url: format!("http://127.0.0.1:{port}/launch"),
        key: "otrbot-test".into(),
        secret: "otrbot-test-secret".into(),
        params: lti_common::learner("u1"),
        timestamp: None,
        nonce: None,
    }])
    .remove(0);
    let resp = b.request("POST", "/launch", Some(&body));
    assert_eq!(resp.status, 303, "{}{}", resp.head, resp.body);
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
    let s = settings(dir.path(), 1);
    let out = Command::new(BIN)
        .args(["run", "--settings"])
        .arg(&s)
        .env("ROCKET_PROFILE", "release")
        .env("ROCKET_PORT", "0")
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
        .env("ROCKET_PORT", port.to_string())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "bad setting: {err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(err.contains("ROCKET_PORT"), "{err}");
}
