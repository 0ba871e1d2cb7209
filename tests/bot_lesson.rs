//! The whole lesson against the loopback Prosody: the bot (`otrbot run`) teaches a scripted
//! learner whose OTR is real libotr (tests/peer), not the project's own engine.

mod support;

use futures::StreamExt;
use otrbot::xmpp::stanza::{incoming, outgoing, Incoming, Outgoing};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::libotr::{policy, Outcome, Peer};
use support::prosody;
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::{Client, Event};

const T: Duration = Duration::from_secs(30);
const SECRET: &str = "correct horse battery";

struct Bot {
    child: Child,
    jid: BareJid,
    _dir: tempfile::TempDir,
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `otrbot run` with its own account, whitelisting `learner`.
fn start_bot(learner: &str, extra: &str) -> Bot {
    let (jid, pw) = prosody::fresh_account("teacher");
    start_bot_as(&jid, &pw, tempfile::tempdir().unwrap(), learner, extra)
}

/// Starts `otrbot run` as `jid` with data in `dir` (kept across restarts).
fn start_bot_as(jid: &str, pw: &str, dir: tempfile::TempDir, learner: &str, extra: &str) -> Bot {
    let mut text = prosody::settings_text(jid, pw, &dir.path().join("data"));
    text.push_str(&format!("\n[whitelist]\n{learner:?} = \"en_GB\"\n"));
    text = text.replace("[lesson]\n", &format!("[lesson]\n{extra}"));
    let file = dir.path().join("bot.toml");
    std::fs::write(&file, text).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_otrbot"))
        .args(["--settings", file.to_str().unwrap(), "run"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("ROCKET_PORT", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start otrbot");
    Bot {
        child,
        jid: jid.parse().unwrap(),
        _dir: dir,
    }
}

/// Waits until the bot, once online, has asked the whitelisted learner for a subscription.
async fn befriend(l: &mut Learner) {
    l.until("the bot's subscription request", |l| l.befriended)
        .await;
}

/// Brings the learner to a private (OTR) conversation with the bot.
async fn go_private(l: &mut Learner) {
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
struct Learner {
    client: Client,
    peer: Peer,
    bot: BareJid,
    bot_full: Option<Jid>,
    /// Every plaintext libotr delivered from the bot.
    said: Vec<String>,
    /// Every libotr event seen.
    events: Outcome,
    /// The bot has asked for (and got) the learner's subscription: it is online.
    befriended: bool,
    /// The bot's presence is available (it is online).
    online: bool,
}

impl Learner {
    async fn login(jid: &str, pw: &str, bot: &BareJid) -> Learner {
        let (client, _) = prosody::chat_client(jid, pw, T).await;
        let mut peer = Peer::spawn();
        peer.account(jid);
        peer.load_key(support::keys::fixture_key_path("alice"));
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

    fn contact(&self) -> String {
        self.bot.to_string()
    }

    async fn send_wire(&mut self, msgs: &[Vec<u8>]) {
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
    async fn say(&mut self, text: &str) {
        let out = self.peer.send(&self.contact(), text.as_bytes());
        self.send_wire(&out.inject).await;
    }

    /// Relays the bot's messages through libotr until `done` holds for what was said.
    async fn until(&mut self, what: &str, done: impl Fn(&Learner) -> bool) {
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

    fn last_said(&self) -> &str {
        self.said.last().map(String::as_str).unwrap_or("")
    }

    fn heard(&self, part: &str) -> bool {
        self.said.iter().any(|s| s.contains(part))
    }
}

fn code_in(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .find(|w| w.len() == 9 && w.as_bytes()[4] == b'-')
        .map(str::to_owned)
}

#[tokio::test]
async fn learner_with_libotr_completes_the_lesson() {
    let (ljid, lpw) = prosody::fresh_account("learner");
    let bot = start_bot(&ljid, "");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    befriend(&mut l).await;

    // Plain text first: the bot explains that this is not private.
    l.say("hello").await;
    l.until("the plain-text explanation", |l| l.heard("plain text"))
        .await;

    // Plain text again: a reminder with client hints.
    l.say("hello again").await;
    l.until("the reminder", |l| l.heard("still writing in plain text"))
        .await;

    // The learner starts OTR: the bot explains "encrypted, not verified" and asks for SMP.
    let q = l.peer.query(&l.contact());
    l.send_wire(&q.inject).await;
    l.until("the secure explanation", |l| l.heard("now encrypted"))
        .await;
    assert!(
        l.events.gone_secure(),
        "libotr went secure: {:?}",
        l.events.events
    );
    l.until("the SMP request", |l| l.heard("authenticate me"))
        .await;

    // SMP with the shared secret: the bot answers with the same secret; a code follows.
    let out = l.peer.smp_start(&l.contact(), SECRET.as_bytes(), None);
    l.send_wire(&out.inject).await;
    l.until("the completion code", |l| l.heard("completion code is"))
        .await;
    assert!(
        l.events.has_smp("OTRL_SMPEVENT_SUCCESS"),
        "smp: {:?}",
        l.events.smp_events()
    );
    let code = code_in(l.last_said()).expect("a XXXX-XXXX code");
    assert_eq!(code.len(), 9);
    assert!(
        l.peer.status(&l.contact()).trusted,
        "libotr trusts the bot after SMP"
    );
}

#[tokio::test]
async fn wrong_secret_then_right_one() {
    let (ljid, lpw) = prosody::fresh_account("wrongsecret");
    let bot = start_bot(&ljid, "");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    go_private(&mut l).await;
    let out = l
        .peer
        .smp_start(&l.contact(), b"Correct Horse Battery", None);
    l.send_wire(&out.inject).await;
    l.until("the failure explanation", |l| l.heard("case-sensitive"))
        .await;
    assert!(l.events.has_smp("OTRL_SMPEVENT_FAILURE"));
    let out = l.peer.smp_start(&l.contact(), SECRET.as_bytes(), None);
    l.send_wire(&out.inject).await;
    l.until("the completion code", |l| l.heard("completion code is"))
        .await;
}

#[tokio::test]
async fn smp_with_a_question_is_explained_and_answered() {
    let (ljid, lpw) = prosody::fresh_account("question");
    let bot = start_bot(&ljid, "");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    go_private(&mut l).await;
    let out = l
        .peer
        .smp_start(&l.contact(), SECRET.as_bytes(), Some(b"What did we agree?"));
    l.send_wire(&out.inject).await;
    l.until("the completion code", |l| l.heard("completion code is"))
        .await;
    assert!(l.heard("A question is useful"), "{:#?}", l.said);
}

#[tokio::test]
async fn secret_typed_into_chat_is_voided() {
    let (ljid, lpw) = prosody::fresh_account("leaky");
    let bot = start_bot(&ljid, "");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    go_private(&mut l).await;
    l.say(&format!("is it {SECRET}?")).await;
    l.until("the warning", |l| l.heard("never travel over"))
        .await;
    // The secret is gone: SMP with it is no longer answered with it.
    let out = l.peer.smp_start(&l.contact(), SECRET.as_bytes(), None);
    l.send_wire(&out.inject).await;
    l.until("the no-secret explanation", |l| {
        l.heard("not chosen a shared secret")
    })
    .await;
    assert!(!l.heard("completion code is"));
}

#[tokio::test]
async fn stranger_gets_no_subscription_and_no_reply() {
    let (ljid, _) = prosody::fresh_account("pupil");
    let bot = start_bot(&ljid, "");
    let (sjid, spw) = prosody::fresh_account("stranger");
    let mut s = Learner::login(&sjid, &spw, &bot.jid).await;
    s.client
        .send_stanza(outgoing(Outgoing::Subscribe(bot.jid.clone())))
        .await
        .unwrap();
    s.say("hello").await;
    // Wait a while: only a refusal of the subscription may come, never a chat message.
    let until = Instant::now() + Duration::from_secs(4);
    let mut refused = false;
    while let Ok(Some(ev)) = tokio::time::timeout(
        until.saturating_duration_since(Instant::now()),
        s.client.next(),
    )
    .await
    {
        if let Event::Stanza(st) = ev {
            match incoming(st) {
                Incoming::Chat { from, body } if from.to_bare() == bot.jid => {
                    panic!("the bot answered a stranger: {body}")
                }
                Incoming::SubscribeRequest { from } if from == bot.jid => {
                    panic!("the bot asked a stranger to subscribe")
                }
                Incoming::Unsubscribed { from } if from == bot.jid => refused = true,
                _ => {}
            }
        }
    }
    assert!(refused, "the stranger's subscription request was refused");
}

#[tokio::test]
async fn bot_restart_mid_lesson_keeps_the_otr_session() {
    let (ljid, lpw) = prosody::fresh_account("restart");
    let (bjid, bpw) = prosody::fresh_account("teacher");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_owned();
    let mut bot = start_bot_as(&bjid, &bpw, dir, &ljid, "");
    let mut l = Learner::login(&ljid, &lpw, &bot.jid).await;
    go_private(&mut l).await;
    // Kill the bot hard and start it again on the same data.
    let _ = bot.child.kill();
    let _ = bot.child.wait();
    let keep = std::mem::replace(&mut bot._dir, tempfile::tempdir().unwrap());
    drop(bot);
    assert!(data.exists());
    l.until("the bot going offline", |l| !l.online).await;
    let _bot = start_bot_as(&bjid, &bpw, keep, &ljid, "");
    l.until("the bot coming back online", |l| l.online).await;
    // The learner carries on in the same OTR session: SMP completes.
    let out = l.peer.smp_start(&l.contact(), SECRET.as_bytes(), None);
    l.send_wire(&out.inject).await;
    l.until("the completion code", |l| l.heard("completion code is"))
        .await;
    assert!(
        !l.events
            .msg_events()
            .iter()
            .any(|e| e.contains("UNREADABLE")),
        "{:?}",
        l.events.msg_events()
    );
}
