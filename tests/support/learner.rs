//! A whitelisted learner against `otrbot run` over the loopback Prosody: the bot process, and
//! an XMPP client whose OTR is real libotr (tests/peer), not the project's own engine.

use super::libotr::{policy, Outcome, Peer};
use super::prosody;
use futures::StreamExt;
use otrbot::xmpp::stanza::{incoming, outgoing, Incoming, Outgoing};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::{Client, Event};

/// How long a test waits for any one thing.
pub const T: Duration = Duration::from_secs(30);
/// The secret of settings/test.toml.
pub const SECRET: &str = "correct horse battery";

/// A running `otrbot run` process.
pub struct Bot {
    /// The process.
    pub child: Child,
    /// Its account.
    pub jid: BareJid,
    /// Its settings and data (kept across restarts).
    pub dir: tempfile::TempDir,
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `otrbot run` with its own account, whitelisting `learner`.
pub fn start_bot(learner: &str, extra: &str) -> Bot {
    let (jid, pw) = prosody::fresh_account("teacher");
    start_bot_as(&jid, &pw, tempfile::tempdir().unwrap(), learner, extra)
}

/// Starts `otrbot run` as `jid` with data in `dir` (kept across restarts).
pub fn start_bot_as(
    jid: &str,
    pw: &str,
    dir: tempfile::TempDir,
    learner: &str,
    extra: &str,
) -> Bot {
    let mut text = prosody::settings_text(jid, pw, &dir.path().join("data"));
    text.push_str(&format!("\n[whitelist]\n{learner:?} = \"en_GB\"\n"));
    text = text.replace("[lesson]\n", &format!("[lesson]\n{extra}"));
    spawn_bot(jid, dir, &text, Stdio::inherit())
}

/// Starts `otrbot run` as `jid` with these settings (written to `dir`/bot.toml); its log
/// (stderr) goes to `log`.
pub fn spawn_bot(jid: &str, dir: tempfile::TempDir, settings: &str, log: Stdio) -> Bot {
    let file = dir.path().join("bot.toml");
    std::fs::write(&file, settings).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_otrbot"))
        .args(["--settings", file.to_str().unwrap(), "run"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("ROCKET_PORT", "0")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start otrbot");
    Bot {
        child,
        jid: jid.parse().unwrap(),
        dir,
    }
}

/// Waits until the bot, once online, has asked the whitelisted learner for a subscription.
pub async fn befriend(l: &mut Learner) {
    l.until("the bot's subscription request", |l| l.befriended)
        .await;
}

/// Brings the learner to a private (OTR) conversation with the bot.
pub async fn go_private(l: &mut Learner) {
    befriend(l).await;
    l.say("hello").await;
    l.until("the plain-text explanation", |l| l.heard("plain text"))
        .await;
    let q = l.peer.query(&l.contact());
    l.send_wire(&q.inject).await;
    l.until("the SMP request", |l| l.heard("authenticate me"))
        .await;
}

/// The learner: an XMPP client and a libotr user behind it.
pub struct Learner {
    /// The learner's XMPP connection.
    pub client: Client,
    /// The learner's libotr.
    pub peer: Peer,
    /// The bot's account.
    pub bot: BareJid,
    /// The bot's full JID, once it has written.
    pub bot_full: Option<Jid>,
    /// Every plaintext libotr delivered from the bot.
    pub said: Vec<String>,
    /// Every libotr event seen.
    pub events: Outcome,
    /// The bot has asked for (and got) the learner's subscription: it is online.
    pub befriended: bool,
    /// The bot's presence is available (it is online).
    pub online: bool,
}

impl Learner {
    /// Logs in as `jid` with libotr (fixture key "alice", manual policy) behind the client.
    pub async fn login(jid: &str, pw: &str, bot: &BareJid) -> Learner {
        let (client, _) = prosody::chat_client(jid, pw, T).await;
        let mut peer = Peer::spawn();
        peer.account(jid);
        peer.load_key(super::keys::fixture_key_path("alice"));
        peer.policy(policy::MANUAL);
        Learner {
            client,
            peer,
            bot: bot.clone(),
            bot_full: None,
            said: Vec::new(),
            events: Outcome::default(),
            befriended: false,
            online: false,
        }
    }

    /// The bot as libotr's contact name.
    pub fn contact(&self) -> String {
        self.bot.to_string()
    }

    /// Sends OTR wire messages (libotr's injections) to the bot.
    pub async fn send_wire(&mut self, msgs: &[Vec<u8>]) {
        let to: Jid = self
            .bot_full
            .clone()
            .unwrap_or_else(|| self.bot.clone().into());
        for m in msgs {
            let body = String::from_utf8(m.clone()).unwrap();
            self.client
                .send_stanza(outgoing(Outgoing::Chat {
                    to: to.clone(),
                    body,
                }))
                .await
                .unwrap();
        }
    }

    /// Types `text` (libotr encrypts it when private).
    pub async fn say(&mut self, text: &str) {
        let out = self.peer.send(&self.contact(), text.as_bytes());
        self.send_wire(&out.inject).await;
    }

    /// Relays the bot's messages through libotr until `done` holds for what was said.
    pub async fn until(&mut self, what: &str, done: impl Fn(&Learner) -> bool) {
        let deadline = Instant::now() + T;
        while !done(self) {
            let left = deadline.saturating_duration_since(Instant::now());
            let ev = tokio::time::timeout(left, self.client.next())
                .await
                .unwrap_or_else(|_| {
                    panic!("timed out waiting for {what}; bot said {:#?}", self.said)
                });
            let Some(Event::Stanza(st)) = ev else {
                continue;
            };
            match incoming(st) {
                Incoming::SubscribeRequest { from } if from == self.bot => {
                    self.befriended = true;
                    for o in [
                        Outgoing::Subscribed(from.clone()),
                        Outgoing::Subscribe(from),
                    ] {
                        self.client.send_stanza(outgoing(o)).await.unwrap();
                    }
                }
                Incoming::Available { from } if from.to_bare() == self.bot => self.online = true,
                Incoming::Unavailable { from } if from.to_bare() == self.bot => self.online = false,
                Incoming::Chat { from, body } if from.to_bare() == self.bot => {
                    self.bot_full = Some(from);
                    let out = self.peer.recv(&self.contact(), body.as_bytes());
                    self.said.extend(out.delivered_text());
                    let inject = out.inject.clone();
                    self.events.extend(out);
                    self.send_wire(&inject).await;
                }
                _ => {}
            }
        }
    }

    /// The bot's last plaintext.
    pub fn last_said(&self) -> &str {
        self.said.last().map(String::as_str).unwrap_or("")
    }

    /// Whether the bot has said something containing `part`.
    pub fn heard(&self, part: &str) -> bool {
        self.said.iter().any(|s| s.contains(part))
    }
}

/// The XXXX-XXXX completion code in `text`, if any.
pub fn code_in(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .find(|w| w.len() == 9 && w.as_bytes()[4] == b'-')
        .map(str::to_owned)
}
