//! arlolra's otr.js (npm `otr` 0.2.16, unpatched; tests/otrjs/peer.js drives it) as the
//! learner's client against `otrbot run` over the loopback Prosody: the whole lesson, SMP and
//! completion code included, in both AKE roles (the bot sends the DH-Commit; otr.js does), with
//! 64 handshakes in each.
//!
//! otr.js 0.2.16 gets about 1 handshake in 16 wrong against any other implementation: it makes
//! the AES key of the revealed key r through a hex string without leading zeros, so its key is
//! wrong whenever r's first byte is below 0x10, whichever side chose r. Every try is judged
//! against the r on the wire: it must fail exactly when that holds, so nothing else (no state
//! left from an earlier try, say) makes a try fail. Every failure must be answered at once as
//! [`Failure`] says, and the next try starts straight after it, by the learner's hand or on the
//! bot's own query; that try fails again only through the same defect with a new r (1 in 16).
//! No try may hang ([`TRY`]). Needs node and `npm ci --prefix tests/otrjs` (scripts/test does
//! both).

mod support;

use futures::StreamExt;
use otrbot::otr::message::{classify, Body, Classified, Message};
use otrbot::xmpp::stanza::{incoming, outgoing, Incoming, Outgoing};
use otrbot::xmpp::stream::Connection;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::learner::{start_bot, SECRET};
use support::prosody;
use tokio_xmpp::jid::{BareJid, Jid};

/// Handshakes per AKE role.
const HANDSHAKES: usize = 64;
/// How long one try may take before the bot counts as stuck (the AKE timer is 60 s).
const TRY: Duration = Duration::from_secs(10);
/// Failed tries of one handshake after which it counts as not recovering. Only a safety net:
/// every failed try must be otr.js's 1-in-16 defect, so 8 in a row come once in 16^8.
const MAX_TRIES: usize = 8;

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn unb64(s: &str) -> String {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// What otr.js reported (tests/otrjs/peer.js's output lines).
#[derive(Debug, Clone)]
enum Js {
    /// A wire message for the bot.
    Io(String),
    /// Text for the learner, and whether it arrived encrypted.
    Ui(String, bool),
    /// A status change (2: AKE done on otr.js's side).
    Status(u32),
    /// An error (or warning) otr.js reported, with its severity.
    Error(String, String),
    /// An SMP event.
    Smp(String),
    /// A line of otr.js's debug log (read only in the dumps of a failed test).
    Debug(#[allow(dead_code)] String),
    /// A chat message from the bot, as it came (before otr.js read it).
    Bot(String),
}

/// The otr.js process.
struct Peer {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<Js>,
}

impl Peer {
    fn spawn() -> Peer {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/otrjs");
        let mut child = Command::new("node")
            .arg("peer.js")
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node (and npm ci --prefix tests/otrjs)");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        let (ready_tx, ready) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut w = line.split(' ');
                let ev = match (w.next(), w.next(), w.next()) {
                    (Some("ready"), _, _) => {
                        let _ = ready_tx.send(());
                        continue;
                    }
                    (Some("io"), Some(m), _) => Js::Io(unb64(m)),
                    (Some("ui"), Some(m), e) => Js::Ui(unb64(m), e == Some("1")),
                    (Some("status"), Some(n), _) => Js::Status(n.parse().unwrap_or(99)),
                    (Some("error"), Some(m), s) => {
                        Js::Error(unb64(m), s.unwrap_or("error").to_owned())
                    }
                    (Some("smp"), Some(e), rest) => Js::Smp(format!("{e} {}", rest.unwrap_or(""))),
                    (Some("debug"), Some(m), _) => Js::Debug(unb64(m)),
                    _ => panic!("otr.js peer said {line:?}"),
                };
                if tx.send(ev).is_err() {
                    return;
                }
            }
        });
        ready
            .recv_timeout(Duration::from_secs(60))
            .expect("otr.js started and made its DSA key (npm ci --prefix tests/otrjs?)");
        Peer {
            child,
            stdin,
            lines,
        }
    }

    fn cmd(&mut self, cmd: &str, arg: &str) {
        writeln!(self.stdin, "{cmd} {}", b64(arg)).unwrap();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The learner: an XMPP client with otr.js behind it.
struct Learner {
    client: Connection,
    js: Peer,
    bot: BareJid,
    bot_full: Option<Jid>,
    /// Everything otr.js reported, and the bot's messages, in order.
    seen: Vec<Js>,
}

impl Learner {
    async fn send_raw(&mut self, body: String) {
        let to: Jid = self
            .bot_full
            .clone()
            .unwrap_or_else(|| self.bot.clone().into());
        let st = outgoing(Outgoing::Chat { to, body });
        self.client.send_stanza(st).await.unwrap();
    }

    /// Relays both ways until `done` holds for what otr.js reported since `from`, or `within`
    /// has passed (false).
    async fn relay_until(
        &mut self,
        from: usize,
        within: Duration,
        done: impl Fn(&[Js]) -> bool,
    ) -> bool {
        let until = Instant::now() + within;
        loop {
            while let Ok(ev) = self.js.lines.try_recv() {
                if let Js::Io(wire) = &ev {
                    self.send_raw(wire.clone()).await;
                }
                self.seen.push(ev);
            }
            if done(&self.seen[from..]) {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            let next = tokio::time::timeout(Duration::from_millis(10), self.client.next()).await;
            if let Ok(Some(tokio_xmpp::Event::Stanza(st))) = next {
                match incoming(st) {
                    Incoming::SubscribeRequest { from } if from == self.bot => {
                        for o in [
                            Outgoing::Subscribed(from.clone()),
                            Outgoing::Subscribe(from),
                        ] {
                            self.client.send_stanza(outgoing(o)).await.unwrap();
                        }
                    }
                    Incoming::Chat { from, body } if from.to_bare() == self.bot => {
                        self.bot_full = Some(from);
                        self.seen.push(Js::Bot(body.clone()));
                        self.js.cmd("recv", &body);
                    }
                    _ => {}
                }
            }
        }
    }
}

fn said(evs: &[Js], part: &str) -> bool {
    evs.iter()
        .any(|e| matches!(e, Js::Ui(t, _) if t.contains(part)))
}

/// Both sides are private: otr.js finished its AKE, and the bot confirmed it in an encrypted
/// message (new, refreshed, or started by the client).
fn secure(evs: &[Js]) -> bool {
    evs.iter().any(|e| matches!(e, Js::Status(2)))
        && evs.iter().any(|e| {
            matches!(e, Js::Ui(t, true)
            if t.contains("now encrypted") || t.contains("still encrypted")
                || t.contains("already started OTR"))
        })
}

/// The handshake failed: otr.js or the bot said so.
fn failed(evs: &[Js]) -> bool {
    evs.iter().any(|e| match e {
        Js::Error(_, severity) => severity == "error",
        Js::Ui(t, _) => t.contains(TEACH_FAILED),
        _ => false,
    })
}

/// The start of the bot's teaching reply to a failed handshake (`Msg::OtrFailed`).
const TEACH_FAILED: &str = "Starting our private conversation failed";
/// The bot's OTR error for a handshake message that did not verify (`ERR_AKE_FAILED`), as
/// otr.js reports it.
const BOT_AKE_ERROR: &str = "Setting up the private conversation failed";

/// The side that sent the DH-Commit (and so the Reveal Signature) of a handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Committer {
    Bot,
    Otrjs,
}

/// The revealed key r of a Reveal Signature message on the wire (unfragmented: neither side
/// fragments here), and who sent it; `None` for any other event.
fn reveal(ev: &Js) -> Option<(Committer, Vec<u8>)> {
    let (who, wire) = match ev {
        Js::Io(w) => (Committer::Otrjs, w),
        Js::Bot(w) => (Committer::Bot, w),
        _ => return None,
    };
    let Ok(Classified::Encoded(bytes)) = classify(wire) else {
        return None;
    };
    match Message::parse(&bytes).ok()?.body {
        Body::RevealSig { revealed_key, .. } => Some((who, revealed_key)),
        _ => None,
    }
}

/// otr.js 0.2.16's defect: it makes the AES key of r through a hex string without leading
/// zeros, so its key is wrong when r's first byte is below 0x10 (1 in 16), whichever side
/// chose r; and it sends its own r as an MPI, which drops a leading zero byte (the bot then
/// finds the revealed key too short).
fn otrjs_gets_wrong(r: &[u8]) -> bool {
    r.len() != 16 || r[0] < 0x10
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The learner starts OTR by hand, in the role under test.
async fn start(l: &mut Learner, bot_commits: bool) {
    if bot_commits {
        // A query from otr.js: the bot sends the DH-Commit.
        l.js.cmd("query", "");
    } else {
        // An OTR error to the bot, whose policy (ERROR_START_AKE) answers with a query:
        // otr.js sends the DH-Commit.
        l.send_raw("?OTR Error: please start again".into()).await;
    }
}

/// How a failed try was answered, and so how the next one started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    /// The bot found otr.js's Reveal Signature bad: its OTR error and its teaching reply,
    /// which otr.js read; the learner starts again by hand.
    BotRejected,
    /// The bot found otr.js's Reveal Signature bad while a private conversation was running:
    /// its OTR error, and its teaching reply encrypted in that conversation, which otr.js could
    /// not read (its second defect: a query resets its AKE object, which forgets the protocol
    /// version, and then the MAC of every version 3 data message misses the instance tags);
    /// otr.js's OTR error about it, on which the bot sends a query and otr.js commits.
    BotRejectedReplyUnread,
    /// otr.js could not read the bot's Reveal Signature: its OTR error, on which the bot sends
    /// a query and otr.js commits.
    OtrjsRejected,
}

/// An encrypted OTR data message.
fn is_data(wire: &str) -> bool {
    let Ok(Classified::Encoded(bytes)) = classify(wire) else {
        return false;
    };
    matches!(
        Message::parse(&bytes),
        Ok(Message {
            body: Body::Data(_),
            ..
        })
    )
}

/// otr.js reported an error containing `text` (its own, or the OTR error it received).
fn otrjs_error(evs: &[Js], text: &str) -> bool {
    evs.iter()
        .any(|e| matches!(e, Js::Error(t, s) if t.contains(text) && s == "error"))
}

/// Where the bot's query after otr.js's first OTR error to it is, if it came.
fn query_after_otrjs_error(evs: &[Js]) -> Option<usize> {
    let sent = evs
        .iter()
        .position(|e| matches!(e, Js::Io(w) if w.starts_with("?OTR Error:")))?;
    let after = evs[sent..]
        .iter()
        .position(|e| matches!(e, Js::Bot(w) if w.starts_with("?OTRv")))?;
    Some(sent + after)
}

/// Waits for the whole answer to try `n` (from `from` in `l.seen`), which failed with `who`
/// committing, and judges it; returns it and, when otr.js starts the next try by itself,
/// where in `l.seen` that try starts (the bot's query).
async fn answer(
    l: &mut Learner,
    from: usize,
    n: usize,
    who: Committer,
) -> (Failure, Option<usize>) {
    let whole = |e: &[Js]| match who {
        Committer::Otrjs => {
            otrjs_error(e, BOT_AKE_ERROR)
                && (said(e, TEACH_FAILED) || query_after_otrjs_error(e).is_some())
        }
        Committer::Bot => query_after_otrjs_error(e).is_some(),
    };
    let answered = l.relay_until(from, support::learner::T, whole).await;
    let evs = &l.seen[from..];
    assert!(
        answered,
        "try {n} ({who:?} committed): no whole answer: {evs:#?}"
    );
    let next = query_after_otrjs_error(evs).map(|i| from + i);
    let failure = match (who, next) {
        (Committer::Otrjs, None) => Failure::BotRejected,
        (Committer::Otrjs, Some(query)) => {
            // The one data message the bot sent between its OTR error and its query is the
            // teaching reply (the only thing the lesson says on a failed handshake).
            let err = evs
                .iter()
                .position(|e| matches!(e, Js::Bot(w) if w.starts_with("?OTR Error:")))
                .expect("the bot's OTR error");
            let data = evs[err..query - from]
                .iter()
                .filter(|e| matches!(e, Js::Bot(w) if is_data(w)))
                .count();
            assert!(
                data == 1 && otrjs_error(evs, "MACs do not match."),
                "try {n}: the teaching reply came encrypted, unread for otr.js's second \
                 defect: {evs:#?}"
            );
            Failure::BotRejectedReplyUnread
        }
        (Committer::Bot, _) => {
            assert!(
                otrjs_error(evs, "Hashed g^x does not match."),
                "try {n}: otr.js's AES key of the bot's r was wrong: {evs:#?}"
            );
            Failure::OtrjsRejected
        }
    };
    (failure, next)
}

/// One handshake, started by hand in the role under test. A try may fail only through
/// otr.js's defect (its AES key of the try's r is wrong); it must be answered as [`Failure`]
/// says, and the next try starts at once, by hand or by itself. Returns how each failed try
/// was answered.
async fn handshake(l: &mut Learner, bot_commits: bool) -> Vec<Failure> {
    let mut failures = Vec::new();
    // Where an automatic try started; `None`: the learner starts the next try by hand.
    let mut auto: Option<usize> = None;
    loop {
        let n = failures.len() + 1;
        let from = match auto {
            Some(at) => at,
            None => {
                let at = l.seen.len();
                start(l, bot_commits).await;
                at
            }
        };
        let ended = l.relay_until(from, TRY, |e| secure(e) || failed(e)).await;
        let evs = &l.seen[from..];
        assert!(
            ended,
            "try {n}: neither secure nor failed within {TRY:?} (stuck): {evs:#?}"
        );
        let Some((who, r)) = evs.iter().filter_map(reveal).next_back() else {
            panic!("try {n} ended before any Reveal Signature: {evs:#?}");
        };
        let expected = if bot_commits && auto.is_none() {
            Committer::Bot
        } else {
            Committer::Otrjs
        };
        assert_eq!(
            who,
            expected,
            "try {n} (by hand: {}): {evs:#?}",
            auto.is_none()
        );
        if !failed(evs) {
            assert!(
                !otrjs_gets_wrong(&r),
                "try {n} succeeded with r = {} (otr.js's key of it is wrong): {evs:#?}",
                hex(&r)
            );
            return failures;
        }
        assert!(
            otrjs_gets_wrong(&r),
            "try {n} failed though otr.js handles r = {}: {evs:#?}",
            hex(&r)
        );
        let (failure, next) = answer(l, from, n, who).await;
        failures.push(failure);
        auto = next;
        assert!(
            failures.len() < MAX_TRIES,
            "{MAX_TRIES} tries in a row failed (each through otr.js's defect)"
        );
    }
}

async fn lesson(name: &str, bot_commits: bool) {
    let started = Instant::now();
    let (ljid, lpw) = prosody::fresh_account(name);
    let bot = start_bot(&ljid, "warning_timeout = 600\nsession_timeout = 1200\n");
    let (client, _) = prosody::chat_client(&ljid, &lpw, support::learner::T).await;
    let mut l = Learner {
        client,
        js: Peer::spawn(),
        bot: bot.jid.clone(),
        bot_full: None,
        seen: Vec::new(),
    };
    assert!(
        l.relay_until(0, support::learner::T, |e| said(e, "Say hello"))
            .await,
        "the greeting"
    );
    l.js.cmd("send", "hello");
    assert!(
        l.relay_until(0, support::learner::T, |e| said(e, "plain text"))
            .await,
        "the plain-text explanation: {:#?}",
        l.seen
    );
    let mut failures = Vec::new();
    let mut retried = 0;
    for _ in 0..HANDSHAKES {
        let f = handshake(&mut l, bot_commits).await;
        retried += usize::from(!f.is_empty());
        failures.extend(f);
    }
    let count = |k| failures.iter().filter(|&&f| f == k).count();
    eprintln!(
        "{name}: {HANDSHAKES} handshakes in {:.1} s; {retried} needed more than one try; \
         failed tries: {} the bot rejected (teaching reply read), {} the bot rejected \
         (teaching reply unread), {} otr.js rejected",
        started.elapsed().as_secs_f64(),
        count(Failure::BotRejected),
        count(Failure::BotRejectedReplyUnread),
        count(Failure::OtrjsRejected)
    );
    let from = l.seen.len();
    l.js.cmd("secret", SECRET);
    assert!(
        l.relay_until(from, support::learner::T, |e| said(e, "completion code is"))
            .await,
        "the completion code: {:#?}",
        &l.seen[from..]
    );
    assert!(
        l.seen[from..]
            .iter()
            .any(|e| matches!(e, Js::Smp(s) if s.starts_with("trust true"))),
        "otr.js trusts the bot: {:#?}",
        &l.seen[from..]
    );
}

#[tokio::test]
async fn otrjs_completes_the_lesson_when_the_bot_commits() {
    lesson("otrjsq", true).await;
}

#[tokio::test]
async fn otrjs_completes_the_lesson_when_otrjs_commits() {
    lesson("otrjsc", false).await;
}
