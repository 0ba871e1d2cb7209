//! The loopback Prosody that scripts/test starts: its port, CA, accounts, and settings for it.

use otrbot::settings::{from_toml, Settings};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the suite with scripts/test, which starts the loopback Prosody"
        )
    })
}

/// The directory of the test Prosody (config, certificate, data).
pub fn dir() -> PathBuf {
    PathBuf::from(var("OTRBOT_TEST_PROSODY_DIR"))
}

/// The c2s port of the test Prosody.
pub fn port() -> u16 {
    var("OTRBOT_TEST_PROSODY_PORT")
        .parse()
        .expect("OTRBOT_TEST_PROSODY_PORT is a port")
}

/// The test server's self-signed leaf certificate.
pub fn ca_file() -> PathBuf {
    dir().join("certs/localhost.crt")
}

/// Registers `user@localhost` with `password` (prosodyctl writes the running server's store).
pub fn register(user: &str, password: &str) {
    let cfg = dir().join("prosody.cfg.lua");
    let out = std::process::Command::new("prosodyctl")
        .arg("--config")
        .arg(&cfg)
        .args(["register", user, "localhost", password])
        .output()
        .expect("run prosodyctl");
    assert!(out.status.success(), "prosodyctl register {user}: {out:?}");
}

/// A fresh account name and password, registered on the server.
pub fn fresh_account(prefix: &str) -> (String, String) {
    static N: AtomicU32 = AtomicU32::new(0);
    let user = format!(
        "{prefix}{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let password = format!("pw-{user}");
    register(&user, &password);
    (format!("{user}@localhost"), password)
}

/// settings/test.toml pointed at this server, logging in as `jid` with `password`, data in `data`.
pub fn settings_text(jid: &str, password: &str, data: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text =
        std::fs::read_to_string(root.join("settings/test.toml")).expect("settings/test.toml");
    text.replace("jid = \"otrbot@localhost\"", &format!("jid = {jid:?}"))
        .replace(
            "password = \"otrbot-test-password\"",
            &format!("password = {password:?}"),
        )
        .replace("port = 15222", &format!("port = {}", port()))
        .replace(
            "ca_file = \".run/prosody-test/certs/localhost.crt\"",
            &format!("ca_file = {:?}", ca_file()),
        )
        .replace(
            "data_dir = \".run/test-data\"",
            &format!("data_dir = {data:?}"),
        )
        // This tree's pages and translations, never an installed otrbot's (/usr/share/otrbot
        // comes before the source tree when the settings do not say, and scripts/test's
        // install check puts one there).
        + &format!(
            "\n[paths]\ntemplates = {:?}\nlocales = {:?}\n",
            root.join("templates"),
            root.join("locales")
        )
}

/// Settings `text` whose LTI pages listen on `port` (0: any free port) on loopback, with the
/// public URL that reaches them directly.
pub fn with_lti_port(text: &str, port: u16) -> String {
    text.lines()
        .map(|l| {
            if l.starts_with("public_url = \"http://127.0.0.1:") {
                format!("public_url = \"http://127.0.0.1:{port}\"\nport = {port}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

/// Parsed settings for [`settings_text`].
pub fn settings(jid: &str, password: &str, data: &Path) -> Settings {
    from_toml(&settings_text(jid, password, data), Path::new(""), &|_| {
        None
    })
    .expect("test settings")
}

/// Logs in as `jid` like a chat client (roster, then available presence, so that
/// subscription requests are delivered); returns the client and its full JID.
pub async fn chat_client(
    jid: &str,
    password: &str,
    timeout: std::time::Duration,
) -> (otrbot::xmpp::stream::Connection, tokio_xmpp::jid::Jid) {
    use otrbot::xmpp::login::Login;
    use otrbot::xmpp::stanza::{outgoing, Outgoing};
    let dir = tempfile::tempdir().unwrap();
    let s = settings(jid, password, dir.path());
    let (mut client, bound, _) = Login::from_settings(&s)
        .unwrap()
        .connect(timeout)
        .await
        .unwrap_or_else(|e| panic!("{jid} cannot log in: {e}"));
    for o in [Outgoing::RosterGet, Outgoing::Available { status: None }] {
        client.send_stanza(outgoing(o)).await.unwrap();
    }
    (client, bound)
}
