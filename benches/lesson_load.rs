//! Benchmark (not a timed test): N simulated learners complete the whole lesson with the real
//! bot (`otrbot run`, typing off) through the loopback Prosody. Prints lessons per second,
//! reply latency p50/p99, the bot's CPU per lesson and peak RSS, beside issue 6's goals.
//!
//! Each learner logs in, accepts the bot's subscription, says hello in plain text, starts OTR,
//! runs SMP with the shared secret (the settings' default_secret) and waits for the completion
//! code. Its OTR is otrbot's own engine in-process (interop with real libotr is what
//! tests/bot_lesson.rs proves). At most C learners are in their lesson at once (closed loop);
//! learners stay connected until the run ends.
//!
//! Each learner is whitelisted when its lesson starts, through the bot's admin socket, as a
//! launch from the course page would (the roster grows to N over the run); the time from there
//! to the bot's subscription request is printed apart from the reply latency.
//! `OTRBOT_LOAD_ARRIVAL=start` whitelists all N in the settings instead, so the bot befriends
//! them all at start-up (a burst of 3 N stanzas while the first lessons run).
//!
//! `OTRBOT_LOAD_RATE=R` makes arrivals open-loop: learner i starts at i/R seconds whatever the
//! others do (issue 19's class: 10 a second), with no cap on learners in a lesson at once.
//! `OTRBOT_LOAD_POOL=empty` starts the bot with an empty key pool and its fillers running
//! (target `OTRBOT_LOAD_POOL_TARGET`, default 32), so key generation shows in the first reply
//! ("hello -> explanation", goal p99 < 1 s); by default the pool is filled before the start.
//!
//! Run: `cargo bench --bench lesson_load -- 1000` (N, default 100). Environment:
//! `OTRBOT_LOAD_CONCURRENCY` (C, default 8), `OTRBOT_LOAD_DEADLINE` (seconds a learner may
//! take before it counts as failed, default 120). Uses the Prosody of
//! `OTRBOT_TEST_PROSODY_DIR`/`_PORT` (scripts/test's); without them it starts its own in
//! .run/prosody-bench on `OTRBOT_LOAD_PROSODY_PORT` (default 15230) and stops it after.

#[path = "../tests/support/mod.rs"]
mod support;

use futures::StreamExt;
use otrbot::otr::smp::SmpEvent;
use otrbot::otr::{import_libotr, Account, Channel, Event, Output, Policy};
use otrbot::xmpp::stanza::{incoming, outgoing, Incoming, Outgoing};
use otrbot::xmpp::stream::Connection;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::learner::{spawn_bot_logging, SECRET};
use support::measure::{
    admin, cpu_time, ensure_prosody, env_or, is_running, met, percentile, status_mb, stop_prosody,
    thread_cpu, wait_online, whitelist_add,
};
use support::{keys, load, prosody};
use tokio_xmpp::jid::{BareJid, Jid};

/// Every load account's password.
const PASSWORD: &str = "load-test-password";
/// Goals of issue 6.
const GOAL_LEARNERS: usize = 1000;
const GOAL_P99: Duration = Duration::from_millis(250);
const GOAL_RSS_MB: f64 = 150.0;
/// The first reply, which waits for the session's key when the pool is empty.
const GOAL_FIRST_P99: Duration = Duration::from_secs(1);
const FIRST_PAIR: &str = "hello -> explanation";

/// A request the learner sends and the bot answers, named by what the learner sent.
fn pair_of(wire: &str) -> &'static str {
    match wire {
        w if !w.starts_with("?OTR") => "hello -> explanation",
        w if w.starts_with("?OTR:AAMK") => "DH-Key -> Reveal-Sig",
        w if w.starts_with("?OTR:AAMS") => "Signature -> 'encrypted'",
        w if w.starts_with("?OTR:AAMD") => "SMP message -> SMP reply",
        w if w.starts_with("?OTR:") => "other OTR -> reply",
        _ => "query -> DH-Commit",
    }
}

/// Whether the bot's `body` is the reply that ends `pair` (an earlier message still on its
/// way, like a second line of explanation, is not).
fn answers(pair: &str, body: &str) -> bool {
    match pair {
        "hello -> explanation" => !body.starts_with("?OTR"),
        "query -> DH-Commit" => body.starts_with("?OTR:AAMC"),
        "DH-Key -> Reveal-Sig" => body.starts_with("?OTR:AAMR"),
        _ => body.starts_with("?OTR:AAMD"),
    }
}

fn unix_now() -> u64 {
    otrbot::clock::unix_now()
}

/// One simulated learner: an XMPP client with otrbot's OTR engine behind it.
struct Learner {
    client: Connection,
    bot: BareJid,
    to: Jid,
    account: Arc<Account>,
    channel: Channel,
    heard: Vec<String>,
    secure: bool,
    smp_ok: bool,
    befriended: bool,
    pending: Option<(&'static str, Instant)>,
    latencies: Vec<(&'static str, Duration)>,
    step: &'static str,
}

impl Learner {
    /// Runs an engine call off the runtime (the learners' crypto must not delay timestamps).
    async fn otr(
        &mut self,
        f: impl FnOnce(&mut Channel, &Account) -> Output + Send + 'static,
    ) -> Output {
        let mut ch = std::mem::take(&mut self.channel);
        let account = self.account.clone();
        let (ch, events) = tokio::task::spawn_blocking(move || {
            let ev = f(&mut ch, &account);
            (ch, ev)
        })
        .await
        .expect("engine task");
        self.channel = ch;
        events
    }

    /// Sends what the engine produced to send (the first starts a timed request) and notes
    /// its events.
    async fn handle(&mut self, out: Output) -> Result<(), String> {
        for wire in out.wire {
            if self.pending.is_none() {
                self.pending = Some((pair_of(&wire), Instant::now()));
            }
            let chat = Outgoing::Chat {
                to: self.to.clone(),
                body: wire,
            };
            self.client
                .send_stanza(outgoing(chat))
                .await
                .map_err(|e| format!("send: {e}"))?;
        }
        for ev in out.events {
            match ev {
                Event::Message { text, .. } => self.heard.push(text),
                Event::GoneSecure { .. } => self.secure = true,
                Event::Smp {
                    event: SmpEvent::Success,
                    ..
                } => self.smp_ok = true,
                Event::Smp { event, .. } if event.outcome().is_some() => {
                    return Err(format!("SMP ended with {event:?}"))
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn heard(&self, part: &str) -> bool {
        self.heard.iter().any(|s| s.contains(part))
    }

    /// Relays stanzas until `done`; the bot's answer ends the pending request (its latency).
    async fn until(
        &mut self,
        step: &'static str,
        done: impl Fn(&Learner) -> bool,
    ) -> Result<(), String> {
        self.step = step;
        while !done(self) {
            let Some(ev) = self.client.next().await else {
                return Err("the connection closed".into());
            };
            let tokio_xmpp::Event::Stanza(st) = ev else {
                continue;
            };
            match incoming(st) {
                Incoming::SubscribeRequest { from } if from == self.bot => {
                    self.befriended = true;
                    if let Some((pair, t)) = self.pending.take() {
                        self.latencies.push((pair, t.elapsed()));
                    }
                    for o in [
                        Outgoing::Subscribed(from.clone()),
                        Outgoing::Subscribe(from),
                    ] {
                        self.client
                            .send_stanza(outgoing(o))
                            .await
                            .map_err(|e| format!("send: {e}"))?;
                    }
                }
                Incoming::Chat { from, body } if from.to_bare() == self.bot => {
                    if let Some((pair, t)) = self.pending.filter(|(p, _)| answers(p, &body)) {
                        self.latencies.push((pair, t.elapsed()));
                        self.pending = None;
                    }
                    self.to = from;
                    let events = self.otr(move |ch, a| ch.read(a, &body, unix_now())).await;
                    self.handle(events).await?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The lesson, from the subscription to the completion code.
    async fn lesson(&mut self) -> Result<(), String> {
        self.until("the bot's subscription request", |l| l.befriended)
            .await?;
        let hello = self.otr(|ch, a| ch.write(a, "hello", unix_now())).await;
        self.handle(hello).await?;
        self.until("the plain-text explanation", |l| l.heard("plain text"))
            .await?;
        let query = self.otr(|ch, a| ch.init(a)).await;
        self.handle(query).await?;
        self.until("OTR and the SMP request", |l| {
            l.secure && l.heard("authenticate me")
        })
        .await?;
        let smp = self
            .otr(|ch, a| ch.smp_verify(a, SECRET.as_bytes(), None, unix_now()))
            .await;
        self.handle(smp).await?;
        self.until("SMP and the completion code", |l| {
            l.smp_ok && l.heard("completion code is")
        })
        .await
    }
}

/// What one learner's run gave.
struct Outcome {
    latencies: Vec<(&'static str, Duration)>,
    failure: Option<String>,
    /// Kept connected until the run ends.
    client: Option<Connection>,
}

/// The befriending "pair": whitelisted → the bot's subscription request (not a chat reply).
const BEFRIEND: &str = "whitelisted -> subscribe";

async fn one_learner(
    jid: String,
    admin: Option<PathBuf>,
    bot: BareJid,
    account: Arc<Account>,
    gate: Arc<tokio::sync::Semaphore>,
    deadline: Duration,
    mut bot_gone: tokio::sync::watch::Receiver<bool>,
) -> Outcome {
    let failed = |why: &str| Outcome {
        latencies: Vec::new(),
        failure: Some(why.to_owned()),
        client: None,
    };
    let Ok(_permit) = gate.acquire_owned().await else {
        return failed("the bot exited before this learner started");
    };
    let login = tokio::time::timeout(deadline, prosody::chat_client(&jid, PASSWORD, deadline));
    let client = match login.await {
        Ok((client, _)) => client,
        Err(_) => return failed("login timed out"),
    };
    let launched = match admin {
        Some(sock) => match whitelist_add(&sock, &jid).await {
            Ok(()) => Some(Instant::now()),
            Err(e) => return failed(&format!("whitelist add: {e}")),
        },
        None => None,
    };
    let mut l = Learner {
        client,
        to: bot.clone().into(),
        bot,
        account,
        channel: Channel::new(),
        heard: Vec::new(),
        secure: false,
        smp_ok: false,
        befriended: false,
        pending: launched.map(|t| (BEFRIEND, t)),
        latencies: Vec::new(),
        step: "login",
    };
    let run = tokio::select! {
        r = tokio::time::timeout(deadline, l.lesson()) => Some(r),
        _ = bot_gone.wait_for(|gone| *gone) => None,
    };
    let failure = match run {
        Some(Ok(Ok(()))) => None,
        Some(Ok(Err(e))) => Some(format!("{}: {e}", l.step)),
        Some(Err(_)) => Some(format!("timed out waiting for {}", l.step)),
        None => Some(format!("the bot exited while waiting for {}", l.step)),
    };
    Outcome {
        latencies: l.latencies,
        failure,
        client: Some(l.client),
    }
}

/// The anchor of the bot's CPU per lesson: the bot's side of one AKE (it commits, as in the
/// lesson) and one SMP (it answers), the engine in-process on this thread, only the bot's
/// calls counted; the mean of `runs`.
fn bot_side_anchor(runs: u32) -> Duration {
    const NOW: u64 = 1;
    let learner_account = keys::engine_account("alice", Policy::MANUAL);
    let bot_account = keys::engine_account("bob", Policy::MANUAL);
    let secret = SECRET.as_bytes();
    let mut total = Duration::ZERO;
    for _ in 0..runs {
        let (mut learner, mut bot) = (Channel::new(), Channel::new());
        let mut to_bot = learner.init(&learner_account).wire;
        let mut smp_started = false;
        let mut verified = false;
        loop {
            let mut to_learner = Vec::new();
            for m in std::mem::take(&mut to_bot) {
                let t = thread_cpu();
                let out = bot.read(&bot_account, &m, NOW);
                to_learner.extend(out.wire);
                for e in out.events {
                    if let Event::Smp {
                        event: SmpEvent::AskForSecret,
                        ..
                    } = e
                    {
                        to_learner.extend(bot.smp_verify(&bot_account, secret, None, NOW).wire);
                    }
                    if let Event::Smp {
                        event: SmpEvent::Success,
                        ..
                    } = e
                    {
                        verified = true;
                    }
                }
                total += thread_cpu().saturating_sub(t);
            }
            for m in to_learner {
                to_bot.extend(learner.read(&learner_account, &m, NOW).wire);
            }
            if to_bot.is_empty() {
                if !smp_started && learner.is_encrypted() && bot.is_encrypted() {
                    smp_started = true;
                    to_bot = learner.smp_verify(&learner_account, secret, None, NOW).wire;
                } else {
                    break;
                }
            }
        }
        assert!(verified, "the anchor's SMP succeeds on the bot's side");
    }
    total / runs
}

/// Where the Prosody in use keeps rosters, from its generated config.
fn roster_storage() -> String {
    let cfg = std::fs::read_to_string(prosody::dir().join("prosody.cfg.lua")).unwrap_or_default();
    cfg.lines()
        .find_map(|l| l.strip_prefix("storage = { roster = \""))
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("?")
        .to_owned()
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or_else(|| env_or("OTRBOT_LOAD_LEARNERS", 100));
    let rate: Option<f64> = std::env::var("OTRBOT_LOAD_RATE")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|r: &f64| *r > 0.0);
    // Open-loop arrivals have no cap; a closed loop keeps C learners in a lesson at once.
    let concurrency: usize = env_or(
        "OTRBOT_LOAD_CONCURRENCY",
        if rate.is_some() { n } else { 8 },
    );
    let empty_pool = std::env::var("OTRBOT_LOAD_POOL").is_ok_and(|p| p == "empty");
    let pool_target: usize = env_or("OTRBOT_LOAD_POOL_TARGET", 32);
    let deadline = Duration::from_secs(env_or("OTRBOT_LOAD_DEADLINE", 120));
    let own_prosody = ensure_prosody();
    let loadavg = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "lesson_load: {n} learners, {}, through Prosody on 127.0.0.1:{}; load average before: {}",
        match rate {
            Some(r) => format!("arriving {r} a second (open loop)"),
            None => format!("at most {concurrency} in a lesson at once"),
        },
        prosody::port(),
        loadavg()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "lesson_load: the bot is `otrbot run` (scheduled_say = false); the learners' OTR is \
         otrbot's own engine in-process (interop with real libotr: tests/bot_lesson.rs)"
    );
    let at_start = std::env::var("OTRBOT_LOAD_ARRIVAL").is_ok_and(|a| a == "start");
    println!(
        "lesson_load: Prosody keeps rosters in storage {:?}; {}",
        roster_storage(),
        if at_start {
            "all learners whitelisted in the settings, befriended at the bot's start"
        } else {
            "each learner whitelisted through the admin socket when its lesson starts"
        }
    );

    // Keys: one per session from a pool filled before the start (see the note printed below),
    // or none: the bot's fillers make them during the run.
    let t = Instant::now();
    let (keys, per_key) = if empty_pool {
        (Vec::new(), Duration::ZERO)
    } else {
        load::keys(n + 1, 3)
    };
    let keys_time = t.elapsed();

    // Accounts, written straight into Prosody's storage.
    let tag = std::process::id();
    let learners: Vec<String> = (0..n).map(|i| format!("load{tag}l{i}")).collect();
    let bot_user = format!("load{tag}bot");
    let mut users = learners.clone();
    users.push(bot_user.clone());
    let t = Instant::now();
    load::write_accounts(&users, PASSWORD).expect("write the accounts");
    let accounts_time = t.elapsed();
    let learner_jids: Vec<String> = learners.iter().map(|u| format!("{u}@localhost")).collect();
    let bot_jid = format!("{bot_user}@localhost");

    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    if !keys.is_empty() {
        load::prefill_pool(&data, &keys);
    }
    let level: String = env_or("OTRBOT_LOAD_LOG_LEVEL", "info".to_owned());
    let whitelisted: &[String] = if at_start { &learner_jids } else { &[] };
    let target = if empty_pool { pool_target } else { 1 };
    let settings = load::bot_settings(&bot_jid, PASSWORD, &data, whitelisted, target)
        .replace("level = \"info\"", &format!("level = {level:?}"));
    if std::env::var_os("ROCKET_SECRET_KEY").is_none() {
        // A release build of the bot refuses to start its LTI pages without one.
        use base64::Engine;
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("random");
        let key = base64::engine::general_purpose::STANDARD.encode(key);
        std::env::set_var("ROCKET_SECRET_KEY", key);
    }
    let log_path = dir.path().join("bot.log");
    let log = std::fs::File::create(&log_path).expect("bot log");
    let started = Instant::now();
    std::fs::write(dir.path().join("bot.toml"), &settings).unwrap();
    let mut bot = spawn_bot_logging(&bot_jid, dir, 0, Stdio::from(log));
    let pid = bot.child.id();
    wait_online(&mut bot, &data);
    println!(
        "setup: {n} accounts written in {accounts_time:.1?}; {} keys ready in {keys_time:.1?}; \
         bot online in {:.1?}",
        keys.len(),
        started.elapsed()
    );

    let prosody_pid: Option<u32> = std::fs::read_to_string(prosody::dir().join("prosody.pid"))
        .ok()
        .and_then(|p| p.trim().parse().ok());
    let prosody_before = prosody_pid.map(cpu_time);
    let cpu_before = cpu_time(pid);
    // One thread for all learners' connections (their crypto runs on the blocking pool).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let key = import_libotr(keys::fixture_key_sexp("alice").as_bytes())
        .expect("fixture key")
        .remove(0)
        .key;
    let t0 = Instant::now();
    let outcomes: Vec<Outcome> = rt.block_on(async {
        let gate = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
        let bot_bare: BareJid = bot_jid.parse().expect("bot JID");
        // If the bot process ends, every learner fails at once instead of at its deadline.
        let (gone_tx, gone_rx) = tokio::sync::watch::channel(false);
        let watch_gate = gate.clone();
        tokio::spawn(async move {
            while is_running(pid) {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            watch_gate.close();
            let _ = gone_tx.send(true);
        });
        let tasks: Vec<_> = learner_jids
            .iter()
            .enumerate()
            .map(|(i, jid)| {
                let mut account = Account::new(jid, key.clone()).expect("account");
                account.policy = Policy::MANUAL;
                let arrival = rate.map(|r| t0 + Duration::from_secs_f64(i as f64 / r));
                let learner = one_learner(
                    jid.clone(),
                    (!at_start).then(|| otrbot::bot::admin::socket_path(&data)),
                    bot_bare.clone(),
                    Arc::new(account),
                    gate.clone(),
                    deadline,
                    gone_rx.clone(),
                );
                tokio::spawn(async move {
                    if let Some(at) = arrival {
                        tokio::time::sleep_until(at.into()).await;
                    }
                    learner.await
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap_or_else(|e| Outcome {
                latencies: Vec::new(),
                failure: Some(format!("learner task: {e}")),
                client: None,
            }));
        }
        out
    });
    let elapsed = t0.elapsed();
    let cpu = cpu_time(pid).saturating_sub(cpu_before);
    let hwm = status_mb(pid, "VmHWM:");
    let rss = status_mb(pid, "VmRSS:");
    let bench_cpu = cpu_time(std::process::id());
    let prosody_cpu = prosody_pid
        .zip(prosody_before)
        .map(|(p, before)| cpu_time(p).saturating_sub(before));

    let failures: Vec<&String> = outcomes.iter().filter_map(|o| o.failure.as_ref()).collect();
    let done = n - failures.len();
    let mut all: Vec<Duration> = Vec::new();
    let mut by_pair: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for o in &outcomes {
        for (pair, d) in &o.latencies {
            if *pair != BEFRIEND {
                all.push(*d);
            }
            by_pair.entry(pair).or_default().push(*d);
        }
    }
    all.sort();
    let (p50, p99) = (percentile(&all, 50.0), percentile(&all, 99.0));

    println!(
        "learners      {done}/{n} completed the lesson, {} failed      goal {GOAL_LEARNERS} \
         learners, 0 failures: {}",
        failures.len(),
        met(n >= GOAL_LEARNERS && failures.is_empty())
    );
    println!(
        "lessons/s     {:.1} ({done} lessons in {elapsed:.1?}, logins included)",
        done as f64 / elapsed.as_secs_f64()
    );
    println!(
        "reply latency p50 {p50:.1?}  p99 {p99:.1?}  max {:.1?}  ({} request -> chat reply pairs)      \
         goal p99 < {GOAL_P99:?}: {}",
        all.last().copied().unwrap_or_default(),
        all.len(),
        met(!all.is_empty() && p99 < GOAL_P99)
    );
    // The bot's own time per chat message (arrival at the bot to the end of its turn), apart
    // from what the learners' side adds on this shared machine (their OTR, Prosody, TLS).
    let sock = otrbot::bot::admin::socket_path(&data);
    match rt.block_on(admin(&sock, &otrbot::bot::admin::Request::Stats)) {
        Ok(otrbot::bot::admin::Reply::Stats { turn_times: t }) => println!(
            "bot's own     p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms per chat message ({} turns; \
             arrival at the bot to the end of its turn, from `otrbot stats`)      goal p99 < {GOAL_P99:?}: {}",
            t.p50_us as f64 / 1000.0,
            t.p99_us as f64 / 1000.0,
            t.max_us as f64 / 1000.0,
            t.turns,
            met(t.turns > 0 && Duration::from_micros(t.p99_us) < GOAL_P99)
        ),
        other => println!("bot's own     turn times unavailable: {other:?}"),
    }
    if let Some(first) = by_pair.get(FIRST_PAIR) {
        let mut v = first.clone();
        v.sort();
        let p99 = percentile(&v, 99.0);
        if empty_pool {
            println!(
                "first reply   p99 {p99:.1?} ({FIRST_PAIR}; the session's key from fillers that \
                 started empty)      goal p99 < {GOAL_FIRST_P99:?}: {}",
                met(p99 < GOAL_FIRST_P99)
            );
        } else {
            println!(
                "first reply   p99 {p99:.1?} ({FIRST_PAIR}; the session's key was made before the \
                 start, so its goal is judged with OTRBOT_LOAD_POOL=empty)"
            );
        }
    }
    for (pair, mut v) in by_pair {
        v.sort();
        println!(
            "  {pair:<26} p50 {:>9.1?}  p99 {:>9.1?}  n {}",
            percentile(&v, 50.0),
            percentile(&v, 99.0),
            v.len()
        );
    }
    let per_lesson = cpu.as_secs_f64() * 1000.0 / done.max(1) as f64;
    let anchor = bot_side_anchor(10).as_secs_f64() * 1000.0;
    println!(
        "bot CPU       {per_lesson:.1} ms per lesson ({cpu:.2?} user+system over the run){}",
        if empty_pool {
            ", the fillers' key generation included"
        } else {
            ""
        }
    );
    println!(
        "bot CPU per lesson / one AKE + one SMP on the bot's side ({anchor:.1} ms, the engine \
         in-process, same run) = {:.2}x      goal <= 1.2x{}",
        per_lesson / anchor.max(1e-9),
        if empty_pool {
            " (not comparable here: every session's key was made during the run)".to_owned()
        } else {
            format!(": {}", met(per_lesson / anchor.max(1e-9) <= 1.2))
        }
    );
    println!(
        "bot RSS       peak (VmHWM) {hwm:.1} MB, at the end {rss:.1} MB      goal < {GOAL_RSS_MB} MB: {}",
        met(hwm < GOAL_RSS_MB)
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if empty_pool {
        println!(
            "key pool      started empty; the bot's fillers (target {pool_target}, one per core at low \
             priority) made every session's key during the run"
        );
    } else {
        println!(
        "key pool      {} keys made before the start (target 1, so the fillers stayed idle); one key \
         takes {per_key:.0?} on one thread, so one filler thread per core ({cores}) sustains about \
         {:.1} new sessions/s: {}",
        keys.len(),
        cores as f64 / per_key.as_secs_f64().max(1e-9),
        if cores as f64 / per_key.as_secs_f64().max(1e-9) < done as f64 / elapsed.as_secs_f64() {
            "key generation, not the lessons, bounds sustained throughput unless the pool is \
             pre-filled"
        } else {
            "key generation keeps up with this rate"
        }
    );
    }
    println!(
        "learners' CPU {:.1} s in this process (their OTR, TLS and XML); load average after: {}",
        bench_cpu.as_secs_f64(),
        loadavg()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    if let Some(c) = prosody_cpu {
        println!(
            "Prosody CPU   {:.1} ms per lesson ({c:.2?} over the run; one Lua thread, so at most \
             {:.1} lessons/s from the server alone)",
            c.as_secs_f64() * 1000.0 / done.max(1) as f64,
            done as f64 / c.as_secs_f64().max(1e-9)
        );
    }
    if !failures.is_empty() {
        let mut why: BTreeMap<&str, usize> = BTreeMap::new();
        for f in &failures {
            *why.entry(f.as_str()).or_default() += 1;
        }
        for (f, count) in why {
            println!("  failed ({count}): {f}");
        }
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        println!("  bot log tail:");
        for l in tail.into_iter().rev() {
            println!("    {l}");
        }
    }

    let kept = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("lesson_load-bot.log");
    if std::fs::copy(&log_path, &kept).is_ok() {
        println!("bot log: {}", kept.display());
    }
    drop(bot);
    rt.block_on(async {
        let ends = outcomes
            .into_iter()
            .filter_map(|o| o.client)
            .map(|c| async move { c.send_end().await });
        let _ =
            tokio::time::timeout(Duration::from_secs(10), futures::future::join_all(ends)).await;
    });
    drop(rt);
    load::remove_accounts(&users);
    if let Some(dir) = own_prosody {
        stop_prosody(&dir);
    }
}
