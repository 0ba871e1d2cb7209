//! Floods over the loopback Prosody against `otrbot run`: subscription requests and messages
//! from JIDs not on the whitelist, huge bodies, malformed stanzas, fragments never completed
//! (from a learner and from strangers), AKE restarts in a loop from one learner. Legitimate
//! learners (real libotr) keep their reply latency, measured before and during the flood and
//! printed (also to target/flood-latency.txt); afterwards they finish the lesson in the same
//! OTR session, no stranger has a session or a whitelist entry, and the bot's memory is bounded.

mod support;

use futures::StreamExt;
use otrbot::otr::message::{armor, classify, Classified};
use otrbot::xmpp::stanza::{incoming, Incoming};
use otrbot::xmpp::stream::Connection;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::flood::{admin_json, figures, hostile_stanza, jids, junk, rss_kib, start_bot_for};
use support::learner::{code_in, go_private, Learner, SECRET, T};
use support::libotr::Event as OtrEvent;
use support::prosody;
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::Event;

/// Legitimate learners whose latency is measured.
const LEARNERS: usize = 3;
/// Strangers (JIDs not on the whitelist), one connection each.
const STRANGERS: usize = 40;
/// Probes per learner before the flood.
const BASELINE_PROBES: usize = 20;
/// How long the flood lasts.
const FLOOD: Duration = Duration::from_secs(12);
/// Each stranger sends one hostile stanza this often.
const STRANGER_EVERY: Duration = Duration::from_millis(100);
/// The whitelisted flooders send this often.
const LEARNER_FLOOD_EVERY: Duration = Duration::from_millis(20);
/// Loose bound on a legitimate learner's p99 reply latency during the flood (2 busy cores).
const FLOOD_P99_BOUND: Duration = Duration::from_secs(2);
/// Loose bound on the bot's RSS growth over the flood.
const RSS_GROWTH_BOUND_KIB: u64 = 64 * 1024;
/// Lesson settings for this suite: no expiry while the test runs, quiet logs.
const SETTINGS: &[(&str, &str)] = &[
    ("warning_timeout = 4", "warning_timeout = 600"),
    ("session_timeout = 8", "session_timeout = 1200"),
    ("key_pool_size = 2", "key_pool_size = 6"),
    ("level = \"info\"", "level = \"warn\""),
];

/// One probe: an encrypted line, answered by the bot's request to authenticate it (SMP).
async fn probe(l: &mut Learner, n: usize) -> Duration {
    let before = l.said.len();
    let t = Instant::now();
    l.say(&format!("probe {n}")).await;
    l.until("the reply to a probe", |l| {
        l.said[before..]
            .iter()
            .any(|s| s.contains("authenticate me"))
    })
    .await;
    t.elapsed()
}

/// Probes until `stop`, pausing a little between probes.
async fn probe_until(mut l: Learner, stop: Arc<AtomicBool>) -> (Learner, Vec<Duration>) {
    let mut samples = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        samples.push(probe(&mut l, samples.len()).await);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    (l, samples)
}

/// Reads whatever the server has for `client` for up to `wait`; returns the chat messages and
/// subscription requests the bot sent.
async fn drain(client: &mut Connection, bot: &BareJid, wait: Duration) -> (usize, usize) {
    let (mut chats, mut asks) = (0, 0);
    let until = Instant::now() + wait;
    while let Ok(Some(ev)) = tokio::time::timeout(
        until.saturating_duration_since(Instant::now()),
        client.next(),
    )
    .await
    {
        if let Event::Stanza(st) = ev {
            match incoming(st) {
                Incoming::Chat { from, .. } if from.to_bare() == *bot => chats += 1,
                Incoming::SubscribeRequest { from } if from == *bot => asks += 1,
                _ => {}
            }
        }
    }
    (chats, asks)
}

/// A stranger: hostile stanzas until `stop`; returns (sent, chats from the bot, bot's
/// subscription requests).
async fn stranger(
    mut client: Connection,
    me: String,
    bot: BareJid,
    bot_full: Jid,
    stop: Arc<AtomicBool>,
) -> (usize, usize, usize) {
    let (mut sent, mut chats, mut asks) = (0, 0, 0);
    while !stop.load(Ordering::Relaxed) {
        // Half to the full JID, so that iqs reach the bot rather than the server.
        let to = if (sent / 24) % 2 == 0 {
            bot.to_string()
        } else {
            bot_full.to_string()
        };
        client
            .send_stanza(hostile_stanza(sent, &to, &me))
            .await
            .unwrap_or_else(|e| panic!("stranger {me}: {e}"));
        sent += 1;
        let (c, a) = drain(&mut client, &bot, STRANGER_EVERY).await;
        chats += c;
        asks += a;
    }
    let (c, a) = drain(&mut client, &bot, Duration::from_millis(500)).await;
    (sent, chats + c, asks + a)
}

/// A DH-Commit whose sender instance tag is made up.
fn with_instance_tag(wire: &[u8], tag: u32) -> Vec<u8> {
    let text = String::from_utf8_lossy(wire);
    let Ok(Classified::Encoded(mut bytes)) = classify(&text) else {
        return wire.to_vec();
    };
    bytes[3..7].copy_from_slice(&tag.to_be_bytes());
    armor(&bytes).into_bytes()
}

/// The AKE loop of one whitelisted learner: queries, DH-Commits, DH-Commits from made-up
/// instance tags, over and over, never finishing an AKE. Returns the learner and how many
/// messages it sent.
async fn ake_loop(mut a: Learner, stop: Arc<AtomicBool>) -> (Learner, usize) {
    let contact = a.contact();
    let bot = a.bot.clone();
    let mut sent = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let wire = match sent % 3 {
            0 => a.peer.query(&contact).inject,
            1 => a.peer.recv(&contact, b"?OTRv3?").inject,
            _ => a
                .peer
                .recv(&contact, b"?OTRv3?")
                .inject
                .iter()
                .map(|w| with_instance_tag(w, 0x1000_0000 + sent as u32))
                .collect(),
        };
        a.send_wire(&wire).await;
        sent += wire.len().max(1);
        drain(&mut a.client, &bot, LEARNER_FLOOD_EVERY).await;
    }
    (a, sent)
}

/// First fragments never completed, from a whitelisted learner: v3 with made-up instance
/// tags and v2, small to near the bot's body bound.
async fn fragment_loop(mut f: Learner, stop: Arc<AtomicBool>) -> (Learner, usize) {
    let bot = f.bot.clone();
    let mut sent = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let size = [100, 5_000, 60_000][sent % 3];
        let frag = if sent % 2 == 0 {
            format!(
                "?OTR|{:08x}|00000000,00001,00009,{},",
                0x2000_0000 + sent,
                junk(size, sent)
            )
        } else {
            format!("?OTR,00001,00009,{},", junk(size, sent))
        };
        f.send_wire(&[frag.into_bytes()]).await;
        sent += 1;
        drain(&mut f.client, &bot, LEARNER_FLOOD_EVERY).await;
    }
    (f, sent)
}

fn gone_secure_count(l: &Learner) -> usize {
    l.events
        .events
        .iter()
        .filter(|e| matches!(e, OtrEvent::GoneSecure { .. }))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn learners_keep_their_latency_during_a_flood_and_lose_nothing() {
    let started = Instant::now();
    // Accounts: learners, the AKE looper, the fragment flooder, strangers.
    let accounts = tokio::task::spawn_blocking(|| {
        std::thread::scope(|s| {
            let hs: Vec<_> = (0..LEARNERS + 2 + STRANGERS)
                .map(|i| {
                    s.spawn(move || {
                        prosody::fresh_account(match i {
                            i if i < LEARNERS => "fl-learner",
                            i if i == LEARNERS => "fl-akeloop",
                            i if i == LEARNERS + 1 => "fl-fragments",
                            _ => "fl-stranger",
                        })
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        })
    })
    .await
    .unwrap();
    let (whitelisted, strangers) = accounts.split_at(LEARNERS + 2);
    let wl: Vec<String> = whitelisted.iter().map(|(j, _)| j.clone()).collect();
    let bot = start_bot_for(&wl, SETTINGS);
    let pid = bot.child.id();

    // Every whitelisted learner but the fragment flooder goes private, one after the other
    // (several learners befriended at once can stall the bot's XMPP loop: see the report).
    let mut ready = Vec::new();
    for (i, (jid, pw)) in whitelisted.iter().enumerate() {
        let mut l = Learner::login(jid, pw, &bot.jid).await;
        if i <= LEARNERS {
            go_private(&mut l).await;
        }
        ready.push(l);
    }
    // The bot is online: the fragment flooder starts its session with a hello.
    let mut frag_learner = ready.pop().unwrap();
    frag_learner.say("hello").await;
    frag_learner
        .until("the plain-text explanation", |l| l.heard("plain text"))
        .await;
    let ake_learner = ready.pop().unwrap();
    let mut learners = ready;
    let bot_full = learners[0].bot_full.clone().expect("the bot's full JID");
    eprintln!(
        "flood: setup (accounts, bot, {} private learners) took {:.1} s",
        LEARNERS + 1,
        started.elapsed().as_secs_f64()
    );

    // Baseline latency.
    let mut base = Vec::new();
    for l in &mut learners {
        for n in 0..BASELINE_PROBES {
            base.push(probe(l, n).await);
        }
    }
    let baseline = figures(&base);

    // Strangers log in before the flood starts.
    let mut clients = Vec::new();
    for (jid, pw) in strangers.iter().cloned() {
        clients.push(tokio::spawn(async move {
            let (c, _) = prosody::chat_client(&jid, &pw, T).await;
            (c, jid)
        }));
    }
    let clients: Vec<(Connection, String)> = futures::future::join_all(clients)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let rss_before = rss_kib(pid);

    // The flood, with the learners probing all along.
    let stop = Arc::new(AtomicBool::new(false));
    let flood_started = Instant::now();
    let strangers_run: Vec<_> = clients
        .into_iter()
        .map(|(c, me)| {
            tokio::spawn(stranger(
                c,
                me,
                bot.jid.clone(),
                bot_full.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let ake_run = tokio::spawn(ake_loop(ake_learner, stop.clone()));
    let frag_run = tokio::spawn(fragment_loop(frag_learner, stop.clone()));
    let probes: Vec<_> = learners
        .drain(..)
        .map(|l| tokio::spawn(probe_until(l, stop.clone())))
        .collect();
    tokio::time::sleep(FLOOD).await;
    stop.store(true, Ordering::Relaxed);
    let mut during = Vec::new();
    let mut per_learner = Vec::new();
    for p in probes {
        let (l, samples) = p.await.expect("a learner's probes");
        per_learner.push(samples.len());
        during.extend(samples);
        learners.push(l);
    }
    let (mut stanzas, mut chats, mut asks) = (0, 0, 0);
    for s in strangers_run {
        let (n, c, a) = s.await.expect("a stranger");
        stanzas += n;
        chats += c;
        asks += a;
    }
    let (_ake_learner, ake_sent) = ake_run.await.unwrap();
    let (_frag_learner, frag_sent) = frag_run.await.unwrap();
    let flood_took = flood_started.elapsed();
    assert!(alive(pid), "the bot process survived the flood");
    let rss_after = rss_kib(pid);
    let flood = figures(&during);

    let report = format!(
        "flood: {STRANGERS} strangers sent {stanzas} stanzas; the AKE looper sent {ake_sent}, \
         the fragment flooder {frag_sent}; flood {:.1} s\n\
         latency baseline     {baseline}\n\
         latency during flood {flood}  (probes per learner: {per_learner:?})\n\
         bot RSS before {rss_before} KiB, after {rss_after} KiB\n",
        flood_took.as_secs_f64()
    );
    eprint!("{report}");
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/flood-latency.txt");
    if let Err(e) = std::fs::write(&out, &report) {
        eprintln!("cannot write {}: {e}", out.display());
    }

    // Strangers were told nothing.
    assert_eq!(chats, 0, "the bot chatted with strangers");
    assert_eq!(asks, 0, "the bot asked strangers to subscribe");
    // Every probe was answered (a missing reply fails `probe`); enough of them ran.
    assert!(
        per_learner.iter().all(|n| *n >= 5),
        "each learner probed during the flood: {per_learner:?}"
    );
    assert!(
        flood.p99 < FLOOD_P99_BOUND,
        "p99 during the flood {flood} (baseline {baseline}) over {FLOOD_P99_BOUND:?}"
    );
    assert!(
        rss_after.saturating_sub(rss_before) < RSS_GROWTH_BOUND_KIB,
        "bot RSS grew from {rss_before} KiB to {rss_after} KiB"
    );

    // Nothing stored is lost: each learner finishes the lesson in the same OTR session.
    for l in &mut learners {
        let out = l.peer.smp_start(&l.contact(), SECRET.as_bytes(), None);
        l.send_wire(&out.inject).await;
        l.until("the completion code", |l| l.heard("completion code is"))
            .await;
        assert!(code_in(l.last_said()).is_some(), "{:?}", l.last_said());
        assert_eq!(
            gone_secure_count(l),
            1,
            "one AKE only: {:?}",
            l.events.events
        );
        assert!(
            !l.events
                .msg_events()
                .iter()
                .any(|e| e.contains("UNREADABLE")),
            "{:?}",
            l.events.msg_events()
        );
    }
    // The store: sessions for the whitelisted only, no whitelist entry for a stranger.
    let sessions = jids(&admin_json(&bot, &["sessions", "list", "--json"]));
    let listed = jids(&admin_json(&bot, &["whitelist", "list", "--json"]));
    for (jid, _) in strangers {
        assert!(!sessions.contains(jid), "a session for stranger {jid}");
        assert!(!listed.contains(jid), "stranger {jid} whitelisted");
    }
    for jid in &wl {
        assert!(
            sessions.contains(jid),
            "{jid}'s session is kept: {sessions:?}"
        );
    }
    assert_eq!(sessions.len(), wl.len(), "{sessions:?}");
    // The bot's own time per chat message, as `otrbot stats` reports it.
    let stats = admin_json(&bot, &["stats", "--json"]);
    let t = &stats["turn_times"];
    let us = |k: &str| t[k].as_u64().unwrap_or_else(|| panic!("{k} in {stats}"));
    assert!(
        us("turns") >= 2 * wl.len() as u64,
        "every learner's messages counted: {stats}"
    );
    assert!(
        us("p50_us") <= us("p99_us") && us("p99_us") <= us("max_us"),
        "{stats}"
    );
    eprintln!("flood: the bot's own time per chat message {stats}");
    eprintln!("flood: whole test {:.1} s", started.elapsed().as_secs_f64());
}

/// True while process `pid` runs (it exists and is not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
        !s.lines()
            .any(|l| l.starts_with("State:") && l.contains('Z'))
    })
}
