//! A whitelisted learner against `otrbot run` over the loopback Prosody: the bot process, and
//! an XMPP client whose OTR is real libotr (tests/peer), not the project's own engine.

use super::libotr::{policy, Outcome, Peer};
use super::prosody;
use futures::StreamExt;
use otrbot::xmpp::stanza::{incoming, outgoing, Incoming, Outgoing};
use otrbot::xmpp::stream::Connection;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::parsers::chatstates::ChatState;
use tokio_xmpp::parsers::presence::Presence;
use tokio_xmpp::{Event, Stanza};

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
    start_bot_full(jid, pw, dir, learner, extra, "")
}

/// [`start_bot_as`], with `account` lines added to the bot's `[xmpp.accounts.bot]` table.
pub fn start_bot_full(
    jid: &str,
    pw: &str,
    dir: tempfile::TempDir,
    learner: &str,
    extra: &str,
    account: &str,
) -> Bot {
    let text = bot_settings(jid, pw, dir.path(), learner, extra, account);
    std::fs::write(dir.path().join("bot.toml"), text).unwrap();
    spawn_bot(jid, dir)
}

/// Test settings for the bot as `jid`, data under `dir`, `learner` whitelisted; keys in
/// `extra` replace those of settings/test.toml's `[lesson]` table, `account` lines are added
/// to `[xmpp.accounts.bot]`.
pub fn bot_settings(
    jid: &str,
    pw: &str,
    dir: &Path,
    learner: &str,
    extra: &str,
    account: &str,
) -> String {
    let mut text = prosody::settings_text(jid, pw, &dir.join("data"));
    text.push_str(&format!("\n[whitelist]\n{learner:?} = \"en_GB\"\n"));
    text = override_lesson(&text, extra);
    text.replace(
        "[xmpp.accounts.bot]\n",
        &format!("[xmpp.accounts.bot]\n{account}"),
    )
}

/// Starts `otrbot run` as `jid` with the settings already written to `dir`/bot.toml.
pub fn spawn_bot(jid: &str, dir: tempfile::TempDir) -> Bot {
    spawn_bot_on(jid, dir, 0)
}

/// Like [`spawn_bot`], serving the LTI pages on `lti_port` (0: any free port).
pub fn spawn_bot_on(jid: &str, dir: tempfile::TempDir, lti_port: u16) -> Bot {
    spawn_bot_logging(jid, dir, lti_port, Stdio::inherit())
}

/// Like [`spawn_bot_on`], with the bot's log (stderr) going to `log`.
pub fn spawn_bot_logging(jid: &str, dir: tempfile::TempDir, lti_port: u16, log: Stdio) -> Bot {
    let file = dir.path().join("bot.toml");
    let text = std::fs::read_to_string(&file).expect("bot.toml");
    std::fs::write(&file, super::prosody::with_lti_port(&text, lti_port)).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_otrbot"))
        .args(["--settings", file.to_str().unwrap(), "run"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
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

/// A running bot whose LTI pages listen on `port` and trust the LMS key `lti` (key, secret):
/// nobody whitelisted in its settings and no default secret, as a course starts; started with
/// its log going to `log`, returned once the pages listen.
pub fn spawn_bot_with_pages(
    port: u16,
    jid: &str,
    password: &str,
    lti: (&str, &str),
    dir: tempfile::TempDir,
    log: Stdio,
) -> Bot {
    let text = super::prosody::settings_text(jid, password, &dir.path().join("data"))
        .replace("default_secret = \"correct horse battery\"\n", "")
        .replace(
            "public_url = \"http://127.0.0.1:8000\"",
            &format!("public_url = \"http://127.0.0.1:{port}\""),
        )
        .replace(
            "\"otrbot-test\" = \"otrbot-test-secret\"",
            &format!("{:?} = {:?}", lti.0, lti.1),
        );
    assert!(!text.contains("default_secret") && text.contains(lti.0));
    std::fs::write(dir.path().join("bot.toml"), text).unwrap();
    let mut bot = spawn_bot_logging(jid, dir, port, log);
    super::process::wait_ready(&mut bot.child, "the LTI port", || {
        super::process::listening(port)
    });
    bot
}

/// `text` with the `key = value` lines of `extra` at the top of its `[lesson]` table, and the
/// table's own lines for those keys dropped (TOML forbids a key twice).
fn override_lesson(text: &str, extra: &str) -> String {
    let key = |l: &str| l.split('=').next().unwrap_or("").trim().to_owned();
    let keys: Vec<String> = extra.lines().map(key).filter(|k| !k.is_empty()).collect();
    let mut out = String::new();
    let mut in_lesson = false;
    for line in text.lines() {
        if line.starts_with('[') {
            in_lesson = line.trim() == "[lesson]";
            out.push_str(line);
            out.push('\n');
            if in_lesson {
                out.push_str(extra);
            }
            continue;
        }
        if in_lesson && keys.contains(&key(line)) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Waits until the bot, once online, has asked the whitelisted learner for a subscription.
pub async fn befriend(l: &mut Learner) {
    l.until("the bot's subscription request", |l| l.befriended)
        .await;
}

/// The learner, once befriended, says hello in plain text and hears why that is not private.
pub async fn hello_in_plain_text(l: &mut Learner) {
    befriend(l).await;
    l.say("hello").await;
    l.until("the plain-text explanation", |l| l.heard("plain text"))
        .await;
}

/// Brings the learner to a private (OTR) conversation with the bot.
pub async fn go_private(l: &mut Learner) {
    hello_in_plain_text(l).await;
    let q = l.peer.query(&l.contact());
    l.send_wire(&q.inject).await;
    l.until("the SMP request", |l| l.heard("authenticate me"))
        .await;
}

/// The learner: an XMPP client and a libotr user behind it.
pub struct Learner {
    /// The learner's XMPP connection.
    pub client: Connection,
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
    /// Every chat stanza from the bot, in order: chat states and messages.
    pub trail: Vec<Heard>,
    /// Every presence from the bot, in order.
    pub presences: Vec<Presence>,
    /// The bot has ended the learner's subscription (unsubscribe or unsubscribed).
    pub unsubscribed: bool,
    /// Spoils the next outgoing message it returns `Some` for (then it is dropped).
    pub spoil_next: Option<Spoiler>,
}

/// Makes a spoiled copy of an outgoing OTR message, or `None` to leave it alone.
pub type Spoiler = fn(&[u8]) -> Option<Vec<u8>>;

/// One message stanza from the bot, as the learner saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    /// A chat state notification without a body.
    State(ChatState),
    /// A message with a body: its chat state, and the plaintext libotr delivered from it
    /// (None for OTR protocol messages).
    Message {
        /// The chat state it carried.
        state: Option<ChatState>,
        /// What the learner read.
        text: Option<String>,
    },
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
            trail: Vec::new(),
            presences: Vec::new(),
            unsubscribed: false,
            spoil_next: None,
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
            let spoiled = self.spoil_next.and_then(|f| f(m));
            if spoiled.is_some() {
                self.spoil_next = None;
            }
            let body = String::from_utf8(spoiled.unwrap_or_else(|| m.clone())).unwrap();
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
            if !self.next(left).await {
                panic!("timed out waiting for {what}; bot said {:#?}", self.said)
            }
        }
    }

    /// Relays the bot's messages for `d`, whatever comes.
    pub async fn relay_for(&mut self, d: Duration) {
        let until = Instant::now() + d;
        while self
            .next(until.saturating_duration_since(Instant::now()))
            .await
        {}
    }

    /// Handles the next event within `left`; false when none came in time.
    async fn next(&mut self, left: Duration) -> bool {
        let Ok(ev) = tokio::time::timeout(left, self.client.next()).await else {
            return false;
        };
        if let Some(Event::Stanza(st)) = ev {
            let state = self.note(&st);
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
                Incoming::Unsubscribed { from } if from == self.bot => self.unsubscribed = true,
                Incoming::ChatState { from, state } if from.to_bare() == self.bot => {
                    self.trail.push(Heard::State(state));
                }
                Incoming::Chat { from, body } if from.to_bare() == self.bot => {
                    self.bot_full = Some(from);
                    let out = self.peer.recv(&self.contact(), body.as_bytes());
                    let text = out.delivered_text();
                    self.trail.push(Heard::Message {
                        state,
                        text: (!text.is_empty()).then(|| text.concat()),
                    });
                    self.said.extend(text);
                    let inject = out.inject.clone();
                    self.events.extend(out);
                    self.send_wire(&inject).await;
                }
                _ => {}
            }
        }
        true
    }

    /// Records the bot's presences; returns the chat state a message from the bot carries.
    fn note(&mut self, st: &Stanza) -> Option<ChatState> {
        let from_bot = |j: &Option<Jid>| j.as_ref().is_some_and(|j| j.to_bare() == self.bot);
        match st {
            Stanza::Presence(p) if from_bot(&p.from) => {
                self.presences.push(p.clone());
                None
            }
            Stanza::Message(m) if from_bot(&m.from) => m
                .payloads
                .iter()
                .find_map(|p| ChatState::try_from(p.clone()).ok()),
            _ => None,
        }
    }

    /// Whether the bot has said something containing `part` after its first `n` messages.
    pub fn heard_since(&self, n: usize, part: &str) -> bool {
        self.said.iter().skip(n).any(|s| s.contains(part))
    }

    /// Runs SMP with `secret` until the bot gives a completion code (a new one), which it returns;
    /// libotr must have read every message of the bot's.
    pub async fn smp_to_the_code(&mut self, secret: &[u8]) -> String {
        let before = self.said.len();
        let out = self.peer.smp_start(&self.contact(), secret, None);
        self.send_wire(&out.inject).await;
        self.until("the completion code", |l| {
            l.heard_since(before, "completion code is")
        })
        .await;
        let unreadable = self.events.msg_events();
        assert!(
            !unreadable.iter().any(|e| e.contains("UNREADABLE")),
            "{unreadable:?}"
        );
        code_in(self.last_said()).expect("a XXXX-XXXX code")
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
