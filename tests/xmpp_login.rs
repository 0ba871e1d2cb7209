//! Logging in to the loopback Prosody: success, and each failure named with its exit code.

mod support;

use otrbot::exit::ExitCode;
use otrbot::xmpp::login::{Login, LoginError};
use std::time::Duration;
use support::prosody;

const T: Duration = Duration::from_secs(15);

#[tokio::test]
async fn logs_in_with_starttls_and_checked_certificate() {
    let (jid, pw) = prosody::fresh_account("login");
    let dir = tempfile::tempdir().unwrap();
    let s = prosody::settings(&jid, &pw, dir.path());
    let login = Login::from_settings(&s).unwrap();
    let (client, bound, info) = login.connect(T).await.expect("online");
    assert_eq!(bound.to_bare().to_string(), jid);
    let tls = info.negotiated.expect("TLS was negotiated");
    assert!(
        tls.version == "TLSv1_3" || tls.version == "TLSv1_2",
        "{tls:?}"
    );
    assert!(!info.mechanisms.is_empty());
    client.send_end().await.ok();
}

#[tokio::test]
async fn wrong_password_is_reported_not_retried() {
    let (jid, _) = prosody::fresh_account("badpw");
    let dir = tempfile::tempdir().unwrap();
    let s = prosody::settings(&jid, "not the password", dir.path());
    let e = Login::from_settings(&s)
        .unwrap()
        .connect(T)
        .await
        .expect_err("refused");
    assert!(matches!(e, LoginError::Auth { .. }), "{e:?}");
    assert!(e.to_string().contains("password"), "{e}");
    assert_eq!(e.exit_code(), ExitCode::XmppLogin);
}

#[tokio::test]
async fn untrusted_certificate_is_refused() {
    let (jid, pw) = prosody::fresh_account("noca");
    let dir = tempfile::tempdir().unwrap();
    let text = prosody::settings_text(&jid, &pw, dir.path());
    let ca_line = format!("ca_file = {:?}\n", prosody::ca_file());
    let text = text.replace(&ca_line, "");
    let s = otrbot::settings::from_toml(&text, std::path::Path::new(""), &|_| None).unwrap();
    assert!(s.tls.ca_file.is_none());
    let e = Login::from_settings(&s)
        .unwrap()
        .probe(T)
        .await
        .expect_err("refused");
    match &e {
        LoginError::Tls(t) => assert!(t.to_string().contains("certificate"), "{t}"),
        other => panic!("expected a TLS failure, got {other:?}"),
    }
}

#[tokio::test]
async fn unreachable_server_is_reported() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let text = prosody::settings_text("otrbot@localhost", "x", dir.path()).replace(
        &format!("port = {}", prosody::port()),
        &format!("port = {port}"),
    );
    let s = otrbot::settings::from_toml(&text, std::path::Path::new(""), &|_| None).unwrap();
    let e = Login::from_settings(&s)
        .unwrap()
        .probe(T)
        .await
        .expect_err("unreachable");
    assert!(matches!(e, LoginError::Unreachable { .. }), "{e:?}");
}

#[tokio::test]
async fn tls_13_minimum_is_met() {
    let (jid, pw) = prosody::fresh_account("tls13");
    let dir = tempfile::tempdir().unwrap();
    let text = prosody::settings_text(&jid, &pw, dir.path())
        .replace("[tls]\n", "[tls]\nmin_version = \"1.3\"\n");
    let s = otrbot::settings::from_toml(&text, std::path::Path::new(""), &|_| None).unwrap();
    // Debian's Prosody (LuaSec on OpenSSL 3) speaks TLS 1.3.
    let info = Login::from_settings(&s)
        .unwrap()
        .probe(T)
        .await
        .expect("TLS 1.3 login");
    assert_eq!(info.negotiated.unwrap().version, "TLSv1_3");
}

fn check_config(text: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(&file, text).unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_otrbot"))
        .args([
            "--settings",
            file.to_str().unwrap(),
            "check-config",
            "--timeout",
            "15",
        ])
        .output()
        .unwrap()
}

/// A one-shot HTTP server answering like nginx with otrbot not yet running behind it.
fn fake_public_url() -> u16 {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut c, _)) = l.accept() {
            let mut buf = [0u8; 1024];
            let _ = c.read(&mut buf);
            let _ = c.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        }
    });
    port
}

#[test]
fn check_config_logs_in_reaches_the_lti_url_or_names_the_failure() {
    let (jid, pw) = prosody::fresh_account("check");
    let dir = tempfile::tempdir().unwrap();
    let with_url = |port: u16, pw: &str| {
        prosody::with_lti_port(&prosody::settings_text(&jid, pw, dir.path()), port)
    };
    let out = check_config(&with_url(fake_public_url(), &pw));
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("logged in as {jid}")), "{stdout}");
    assert!(stdout.contains("HTTP 502"), "{stdout}");
    assert!(stdout.contains("new OTR keys per second"), "{stdout}");

    let out = check_config(&with_url(fake_public_url(), "wrong"));
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("password"));

    // Nothing listens at the public URL: exit code 8, naming the setting.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = check_config(&with_url(closed, &pw));
    assert_eq!(out.status.code(), Some(8), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("lti.public_url"));
}

/// A STARTTLS server that speaks only TLS 1.2; each handshake's outcome goes to the channel.
async fn tls12_only_server() -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let acceptor = support::starttls::acceptor(&[&tokio_rustls::rustls::version::TLS12]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let outcome = match support::starttls::accept(tcp, &acceptor).await {
                    Ok(_) => "handshake done".to_owned(),
                    Err(e) => e,
                };
                let _ = tx.send(outcome);
            });
        }
    });
    (port, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_without_the_configured_tls_version_is_exit_127_naming_the_setting() {
    let (port, mut outcomes) = tls12_only_server().await;
    let dir = tempfile::tempdir().unwrap();
    let text = prosody::settings_text("otrbot@localhost", "x", dir.path())
        .replace(
            &format!("port = {}", prosody::port()),
            &format!("port = {port}"),
        )
        .replace("[tls]\n", "[tls]\nmin_version = \"1.3\"\n");
    let s = otrbot::settings::from_toml(&text, std::path::Path::new(""), &|_| None).unwrap();
    let e = Login::from_settings(&s)
        .unwrap()
        .probe(T)
        .await
        .expect_err("no TLS 1.3");
    assert_eq!(e.exit_code(), ExitCode::TlsNotAsConfigured, "{e:?}");
    assert_eq!(e.exit_code().code(), 127);
    assert!(e.to_string().contains("tls.min_version"), "{e}");
    let seen = outcomes.recv().await.unwrap();
    assert!(
        seen.starts_with("TLS:"),
        "the server refused the handshake: {seen}"
    );

    // The program says the same and exits 127.
    let out = tokio::task::spawn_blocking(move || check_config(&text))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("tls.min_version"));
    let seen = outcomes.recv().await.unwrap();
    assert!(seen.starts_with("TLS:"), "{seen}");

    // With the default minimum (1.2) the same server is fine as far as TLS goes.
    let text = prosody::settings_text("otrbot@localhost", "x", dir.path()).replace(
        &format!("port = {}", prosody::port()),
        &format!("port = {port}"),
    );
    let s = otrbot::settings::from_toml(&text, std::path::Path::new(""), &|_| None).unwrap();
    let _ = Login::from_settings(&s).unwrap().probe(T).await;
    let seen = outcomes.recv().await.unwrap();
    assert_eq!(seen, "handshake done");
}
