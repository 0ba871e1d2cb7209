//! Crash safety of OTR conversations: a child process plays the bot for three learners,
//! each learner a real libotr peer. The child keeps, per learner, a store session (with its
//! pool key) and its OTR account and channel state, and follows the rule "save the channel
//! state, then send": it prints a message (= sends it) only after `save_channel_state`
//! returned. The parent relays every wire message between the child and libotr, and kills
//! the child with SIGKILL at chosen points (right after handing it a message, a few
//! milliseconds later, after its first sent message, between messages), then restarts it.
//!
//! Asserted: libotr reads everything the child sends and the child reads everything libotr
//! sends (no unreadable, malformed or unexpected events); no acknowledged message is lost
//! or read twice; after every restart each session and channel state is there; and no AES
//! key and counter is ever used for two different messages across all runs
//! ([`support::otrwire::CtrLedger`] parses every Data message the child sent).
//!
//! Messages the child never acknowledged are handed to it again after a restart, under the
//! same per-learner sequence number. The saved state holds the last sequence number read
//! and what was sent for it (the outbox), so a message read before the crash is not read
//! again (libotr would see a replayed counter) and its answer is sent again byte for byte
//! (the parent drops exact duplicates, as a transport with stream resumption would).
//!
//! The test can fail: with the child's two steps swapped (send, then save) it reports an
//! AES-CTR counter reused for two different messages within a few seconds, for every seed
//! tried (the lines `store.save_channel_state(..)` and `for l in &lines { emit(l) }` in
//! [`otr_crash_child`]).
//!
//! Seed: `OTRBOT_OTR_CRASH_SEED=<u64>` (printed on failure) picks kill points, kinds of
//! kill, delays and who talks when.

mod support;

use otrbot::clock::unix_now;
use otrbot::otr::{Account, Channel, Event, PrivateKey};
use otrbot::store::{
    default_dsa_key, keypool::decode_dsa_key, SecretBytes, Session, Store, Timeouts,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};
use support::libotr::{self, hex, unhex, MsgState, Outcome, Peer};
use support::otrwire::CtrLedger;
use support::store::open_retrying;

const DIR_ENV: &str = "OTRBOT_OTR_CRASH_DIR";
const RUN_ENV: &str = "OTRBOT_OTR_CRASH_RUN";
const SEED_ENV: &str = "OTRBOT_OTR_CRASH_SEED";
const DEFAULT_SEED: u64 = 0x07b0_7c4a_5e5d;
/// The libotr side of each learner (fixture keys, accounts `<name>@test`).
const LEARNERS: [&str; 3] = ["alice", "bob", "peer"];
/// Messages each learner sends once private; the child answers message k with 1 + k % 3.
const MESSAGES: u32 = 40;
/// The bot's account name, the contact every libotr peer talks to.
const BOT: &str = "bot@test";
/// Marks protocol lines on the child's stdout (the test harness prints there too).
const MARK: &str = "@ ";
const T: Timeouts = Timeouts {
    warning: 1_000_000,
    session: 2_000_000,
};

fn jid(i: usize) -> String {
    format!("learner{i}@example.org")
}

/// Everything the bot keeps for one learner, saved with `save_channel_state`.
#[derive(Serialize, Deserialize)]
struct Saved {
    account: Account,
    channel: Channel,
    /// Sequence number of the last message read.
    last_seq: u64,
    /// The protocol lines sent for `last_seq` (sent again if it is handed over again).
    outbox: Vec<String>,
    /// Replies sent so far.
    replies: u64,
}

fn encode(s: &Saved) -> Vec<u8> {
    bincode::serde::encode_to_vec(s, bincode::config::standard()).expect("encode channel state")
}

fn decode(b: &[u8]) -> Saved {
    bincode::serde::decode_from_slice(b, bincode::config::standard())
        .expect("decode channel state")
        .0
}

/// The learner's message number in "m<k> from learner<i>".
fn learner_msg_number(text: &str) -> Option<u32> {
    text.strip_prefix('m')?.split(' ').next()?.parse().ok()
}

fn replies_to(k: u32) -> u32 {
    1 + k % 3
}

/// Loads (or makes, for a new session) the bot's state for learner `i`.
fn load_or_create(store: &Store, i: usize) -> (Saved, &'static str) {
    let jid = jid(i);
    if store.session(&jid).unwrap().is_none() {
        store
            .create_session(&jid, &Session::new("start", "en_GB", unix_now()), T)
            .unwrap();
    }
    if let Some(b) = store.channel_state(&jid).unwrap() {
        return (decode(b.expose()), "restored");
    }
    let key = store
        .otr_key(&jid)
        .unwrap()
        .expect("session has a pool key");
    let [p, q, g, y, x] = decode_dsa_key(key.expose()).unwrap();
    let key = PrivateKey::from_components(&p, &q, &g, &y, &x).unwrap();
    let mut account = Account::new(BOT, key).unwrap();
    // The third learner gets fragmented messages from the bot.
    account.max_message_size = if i == 2 { 160 } else { 0 };
    let saved = Saved {
        account,
        channel: Channel::new(),
        last_seq: 0,
        outbox: Vec::new(),
        replies: 0,
    };
    // The instance tag goes out in the first message: it must be saved before that.
    store.save_channel_state(&jid, &encode(&saved)).unwrap();
    (saved, "fresh")
}

/// Reads one wire message for learner `i`; returns the lines to send, in order.
fn read_one(s: &mut Saved, i: usize, wire: &str, run: &str) -> Vec<String> {
    let now = unix_now();
    let mut lines = Vec::new();
    let mut replies = Vec::new();
    let out = s.channel.read(&s.account, wire, now);
    for ev in out.events {
        match ev {
            Event::Message {
                text,
                encrypted: true,
                ..
            } => {
                lines.push(format!("deliver {i} {}", hex(text.as_bytes())));
                match learner_msg_number(&text) {
                    Some(k) => replies.push(k),
                    None => lines.push(format!("problem {i} unexpected text {text:?}")),
                }
            }
            other => lines.extend(describe(i, other)),
        }
    }
    lines.extend(out.wire.iter().map(|w| inject(i, w)));
    for k in replies {
        for j in 1..=replies_to(k) {
            s.replies += 1;
            let text = format!("echo {k}.{j} run {run} reply {}", s.replies);
            let out = s.channel.write(&s.account, &text, now);
            lines.extend(out.events.into_iter().filter_map(|ev| describe(i, ev)));
            lines.extend(out.wire.iter().map(|w| inject(i, w)));
        }
    }
    lines
}

/// The protocol line for a wire message to send.
fn inject(i: usize, wire: &str) -> String {
    format!("inject {i} {}", hex(wire.as_bytes()))
}

/// The protocol line for an event other than an encrypted message (None: nothing to say).
fn describe(i: usize, ev: Event) -> Option<String> {
    match ev {
        Event::GoneSecure { .. } => Some(format!("secure {i}")),
        Event::UnverifiedFingerprint { .. } => None,
        other => Some(format!("problem {i} {other:?}")),
    }
}

/// The child: plays the bot until killed (or told to quit). Idle unless started by the parent.
#[test]
#[ignore = "run by otr_conversations_survive_sigkill in a child process"]
fn otr_crash_child() {
    let Some(dir) = std::env::var_os(DIR_ENV) else {
        return;
    };
    let run = std::env::var(RUN_ENV).unwrap_or_default();
    let store = open_retrying(Path::new(&dir));
    let mut out = std::io::stdout().lock();
    let mut emit = |line: &str| {
        // One write per line: a printed line has been sent.
        out.write_all(format!("\n{MARK}{line}\n").as_bytes())
            .and_then(|()| out.flush())
            .expect("stdout");
    };
    let mut states = Vec::new();
    for i in 0..LEARNERS.len() {
        let (saved, how) = load_or_create(&store, i);
        emit(&format!("state {i} {} {how}", saved.last_seq));
        states.push(saved);
    }
    emit("ready");
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        let f: Vec<&str> = line.split(' ').collect();
        if f[0] == "quit" {
            return;
        }
        assert_eq!((f[0], f.len()), ("recv", 4), "bad command {line:?}");
        let i: usize = f[1].parse().unwrap();
        let seq: u64 = f[2].parse().unwrap();
        let s = &mut states[i];
        if seq <= s.last_seq {
            // Read before a crash: send the same answer again.
            assert_eq!(
                seq, s.last_seq,
                "message {seq} of learner {i} handed over again"
            );
            for l in &s.outbox {
                emit(l);
            }
            emit(&format!("done {i} {seq}"));
            continue;
        }
        assert_eq!(seq, s.last_seq + 1, "learner {i}: a message was skipped");
        let wire = String::from_utf8(unhex(f[3]).unwrap()).unwrap();
        let lines = read_one(s, i, &wire, &run);
        s.last_seq = seq;
        s.outbox = lines.clone();
        // The rule under test: durable first, then send.
        store.save_channel_state(&jid(i), &encode(s)).unwrap();
        for l in &lines {
            emit(l);
        }
        emit(&format!("done {i} {seq}"));
    }
}

/// The running child process, as the parent sees it.
struct ChildProc {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

/// Where the parent kills the child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kill {
    /// Right after handing it a message, before it can answer.
    AtOnce,
    /// After handing it a message, 50 to 100% of a typical answer's time (mid save or send).
    AfterDelay,
    /// Right after its first sent message of an answer (when it sends any).
    AfterFirstSend,
    /// After it finished a message, before the next one.
    Between,
}

const KILLS: [Kill; 4] = [
    Kill::AtOnce,
    Kill::AfterDelay,
    Kill::AfterFirstSend,
    Kill::Between,
];

/// The parent: libotr peers, the message queue towards the child, and what was seen.
struct Harness {
    seed: u64,
    exe: PathBuf,
    dir: PathBuf,
    stderr_log: PathBuf,
    run: u32,
    child: Option<ChildProc>,
    peers: Vec<Peer>,
    /// Wire messages from libotr for the child, in order: (learner, message).
    queue: VecDeque<(usize, String)>,
    /// The message handed to the child and not yet acknowledged: (learner, seq, message).
    in_flight: Option<(usize, u64, String)>,
    next_seq: Vec<u64>,
    acked: Vec<u64>,
    /// Learner whose libotr side went secure.
    secure: Vec<bool>,
    /// Messages each learner sent.
    sent: Vec<u32>,
    /// Next learner message number the child must read.
    child_next: Vec<u32>,
    /// (k, j) of every echo libotr read, per learner.
    lib_read: Vec<BTreeSet<(u32, u32)>>,
    /// Every learner whose state the child has sent something from.
    has_sent: Vec<bool>,
    /// Wire messages the child sent (and were relayed) for the in-flight message, all runs.
    answer: Vec<String>,
    /// How many of the child's wire messages for the in-flight message this run has seen.
    answer_pos: usize,
    ledger: CtrLedger,
    kills: Vec<Kill>,
    dropped_dups: usize,
    reprinted_delivers: usize,
    /// Restarts that found the in-flight message read and saved but not acknowledged.
    saved_unacked: usize,
}

impl Harness {
    fn fail(&self, what: &str) -> ! {
        let log = std::fs::read_to_string(&self.stderr_log).unwrap_or_default();
        let tail: String = log
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        panic!(
            "{what}\n(seed {} — rerun with {SEED_ENV}={}; run {}, {} kills so far)\n\
             --- child stderr (tail) ---\n{tail}",
            self.seed,
            self.seed,
            self.run,
            self.kills.len()
        );
    }

    fn start(&mut self) {
        self.run += 1;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr_log)
            .unwrap();
        let mut child = Command::new(&self.exe)
            .args([
                "otr_crash_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_ENV, &self.dir)
            .env(RUN_ENV, self.run.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut line = String::new();
            loop {
                line.clear();
                match r.read_line(&mut line) {
                    // A line cut short by the kill was never sent whole: drop it.
                    Ok(0) | Err(_) => break,
                    Ok(_) if !line.ends_with('\n') => break,
                    Ok(_) => {
                        if let Some(p) = line.find(MARK) {
                            let msg = line[p + MARK.len()..].trim_end().to_owned();
                            if tx.send(msg).is_err() {
                                break;
                            }
                        }
                    }
                }
            }
        });
        self.child = Some(ChildProc {
            child,
            stdin,
            lines,
        });
        // The restored state: nothing acknowledged may be missing.
        for _ in 0..LEARNERS.len() {
            let line = self.next_line();
            let f: Vec<&str> = line.split(' ').collect();
            if f.len() != 4 || f[0] != "state" {
                self.fail(&format!("expected a state line, got {line:?}"));
            }
            let i: usize = f[1].parse().unwrap();
            let last: u64 = f[2].parse().unwrap();
            if last < self.acked[i] || last > self.next_seq[i] {
                self.fail(&format!(
                    "learner {i}: restored sequence {last}, acknowledged {}, handed over {}",
                    self.acked[i], self.next_seq[i]
                ));
            }
            if matches!(self.in_flight, Some((j, seq, _)) if j == i && seq == last) {
                self.saved_unacked += 1;
            }
            if self.has_sent[i] && f[3] != "restored" {
                self.fail(&format!(
                    "learner {i}: channel state lost although the bot sent from it ({line})"
                ));
            }
        }
        let ready = self.next_line();
        if ready != "ready" {
            self.fail(&format!("expected ready, got {ready:?}"));
        }
    }

    fn next_line(&mut self) -> String {
        let c = self.child.as_mut().expect("child running");
        match c.lines.recv_timeout(Duration::from_secs(30)) {
            Ok(l) => l,
            Err(RecvTimeoutError::Timeout) => self.fail("the child did not answer within 30 s"),
            Err(RecvTimeoutError::Disconnected) => {
                let status = c.child.wait().ok();
                self.fail(&format!("the child died unasked (status {status:?})"))
            }
        }
    }

    /// SIGKILL, then handle whatever the child had sent before dying, then restart it.
    fn crash(&mut self, kind: Kill) {
        let mut c = self.child.take().expect("child running");
        c.child.kill().unwrap(); // SIGKILL
        c.child.wait().unwrap();
        drop(c.stdin);
        while let Ok(line) = c.lines.recv_timeout(Duration::from_secs(10)) {
            if let Some(done) = self.handle(&line) {
                self.acknowledge(done);
            }
        }
        self.kills.push(kind);
        self.start();
    }

    fn check_libotr(&self, i: usize, o: &Outcome) {
        for ev in &o.events {
            match ev {
                libotr::Event::GoneSecure { .. } if !self.secure[i] => {}
                libotr::Event::Timer { .. } | libotr::Event::NewFingerprint { .. } => {}
                // Heartbeats (empty data messages) are ordinary traffic.
                libotr::Event::Message { kind, .. } if kind.contains("_HEARTBEAT_") => {}
                other => self.fail(&format!("libotr ({}) reported {other:?}", LEARNERS[i])),
            }
        }
    }

    /// Handles one line the child sent; returns `(learner, seq)` for a `done`.
    fn handle(&mut self, line: &str) -> Option<(usize, u64)> {
        let f: Vec<&str> = line.split(' ').collect();
        let i: usize = match f.get(1).and_then(|s| s.parse().ok()) {
            Some(i) if i < LEARNERS.len() => i,
            _ => self.fail(&format!("bad line from the child: {line:?}")),
        };
        match f[0] {
            "inject" => {
                self.has_sent[i] = true;
                let wire = String::from_utf8(unhex(f[2]).unwrap()).unwrap();
                if let Err(e) = self.ledger.record(i, &wire) {
                    self.fail(&e);
                }
                // Lines sent again for the in-flight message after a crash repeat what was
                // already relayed (exactly, in order) before anything new.
                let pos = self.answer_pos;
                self.answer_pos += 1;
                if let Some(earlier) = self.answer.get(pos) {
                    if *earlier != wire {
                        self.fail(&format!(
                            "learner {i}: the answer sent again after a crash differs at \
                             message {pos}:\n  before: {earlier}\n  again:  {wire}"
                        ));
                    }
                    self.dropped_dups += 1;
                    return None;
                }
                self.answer.push(wire.clone());
                let o = self.peers[i].recv(BOT, wire.as_bytes());
                self.check_libotr(i, &o);
                if o.gone_secure() {
                    self.secure[i] = true;
                }
                for d in o.delivered_text() {
                    let kj = d
                        .strip_prefix("echo ")
                        .and_then(|r| r.split(' ').next())
                        .and_then(|kj| kj.split_once('.'))
                        .and_then(|(k, j)| Some((k.parse().ok()?, j.parse().ok()?)));
                    let Some(kj) = kj else {
                        self.fail(&format!("libotr of learner {i} read {d:?}"));
                    };
                    if !self.lib_read[i].insert(kj) {
                        self.fail(&format!("learner {i}: libotr read {d:?} twice"));
                    }
                }
                for w in o.inject {
                    self.queue.push_back((i, String::from_utf8(w).unwrap()));
                }
            }
            "deliver" => {
                let text = String::from_utf8(unhex(f[2]).unwrap()).unwrap();
                let k = learner_msg_number(&text).unwrap_or(0);
                if k + 1 == self.child_next[i] {
                    self.reprinted_delivers += 1; // its answer is sent again after a crash
                } else if k != self.child_next[i] {
                    self.fail(&format!(
                        "learner {i}: the bot read {text:?}, expected message {}",
                        self.child_next[i]
                    ));
                } else {
                    self.child_next[i] += 1;
                }
            }
            "secure" => {}
            "done" => return Some((i, f[2].parse().unwrap())),
            _ => self.fail(&format!("the bot reported: {line}")),
        }
        None
    }

    /// The child finished the in-flight message.
    fn acknowledge(&mut self, done: (usize, u64)) {
        match self.in_flight.take() {
            Some((i, seq, _)) if done == (i, seq) => {
                self.acked[i] = seq;
                self.answer.clear();
            }
            other => self.fail(&format!(
                "done {done:?} while {:?} was in flight",
                other.map(|(i, seq, _)| (i, seq))
            )),
        }
    }

    /// Hands the in-flight message to the child.
    fn hand_over(&mut self) {
        let (i, seq, wire) = self.in_flight.clone().expect("in flight");
        self.answer_pos = 0;
        let c = self.child.as_mut().expect("child running");
        writeln!(c.stdin, "recv {i} {seq} {}", hex(wire.as_bytes()))
            .and_then(|()| c.stdin.flush())
            .unwrap();
    }

    /// Reads the child's lines up to the `done` of the in-flight message; with
    /// `stop_after_send`, returns early (false) right after the first sent message.
    fn await_done(&mut self, stop_after_send: bool) -> bool {
        loop {
            let line = self.next_line();
            let sent = line.starts_with("inject ");
            if let Some(done) = self.handle(&line) {
                self.acknowledge(done);
                return true;
            }
            if sent && stop_after_send {
                return false;
            }
        }
    }

    /// Lets a learner who is private say something (1 to 3 messages); false when none can.
    fn learner_speaks(&mut self, rng: &mut StdRng) -> bool {
        let ready: Vec<usize> = (0..LEARNERS.len())
            .filter(|&i| self.secure[i] && self.sent[i] < MESSAGES)
            .collect();
        if ready.is_empty() {
            return false;
        }
        let i = ready[rng.random_range(0..ready.len())];
        for _ in 0..rng.random_range(1..=3) {
            if self.sent[i] == MESSAGES {
                break;
            }
            self.sent[i] += 1;
            let text = format!("m{} from learner{i}", self.sent[i]);
            let o = self.peers[i].send(BOT, text.as_bytes());
            self.check_libotr(i, &o);
            for w in o.inject {
                self.queue.push_back((i, String::from_utf8(w).unwrap()));
            }
        }
        true
    }
}

#[test]
fn otr_conversations_survive_sigkill() {
    let seed = std::env::var(SEED_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    eprintln!("seed {seed} (set {SEED_ENV} to repeat)");
    let mut rng = StdRng::seed_from_u64(seed);
    let d = tempfile::tempdir().unwrap();
    {
        let store = Store::open(d.path()).unwrap();
        for _ in 0..LEARNERS.len() {
            store
                .pool_add(&SecretBytes::new(default_dsa_key()))
                .unwrap();
        }
    }
    let peers: Vec<Peer> = LEARNERS.iter().map(|n| Peer::with_key(n)).collect();
    let n = LEARNERS.len();
    let mut h = Harness {
        seed,
        exe: std::env::current_exe().unwrap(),
        dir: d.path().to_owned(),
        stderr_log: d.path().join("child-stderr.log"),
        run: 0,
        child: None,
        peers,
        queue: VecDeque::new(),
        in_flight: None,
        next_seq: vec![0; n],
        acked: vec![0; n],
        secure: vec![false; n],
        sent: vec![0; n],
        child_next: vec![1; n],
        lib_read: vec![BTreeSet::new(); n],
        has_sent: vec![false; n],
        answer: Vec::new(),
        answer_pos: 0,
        ledger: CtrLedger::new(),
        kills: Vec::new(),
        dropped_dups: 0,
        reprinted_delivers: 0,
        saved_unacked: 0,
    };
    h.start();
    for i in 0..n {
        let o = h.peers[i].query(BOT);
        for w in o.inject {
            h.queue.push_back((i, String::from_utf8(w).unwrap()));
        }
    }
    // From now on the second learner's libotr fragments what it sends (AKE and data; the
    // query above stays whole: the engine takes only encoded messages from fragments).
    h.peers[1].max_size(300);

    let mut step = 0u32;
    let mut next_kill = rng.random_range(2..6);
    let mut typical = Duration::from_millis(5);
    loop {
        if h.in_flight.is_none() {
            if let Some((i, wire)) = h.queue.pop_front() {
                h.next_seq[i] += 1;
                h.in_flight = Some((i, h.next_seq[i], wire));
            } else if h.learner_speaks(&mut rng) {
                continue;
            } else {
                break;
            }
        }
        step += 1;
        let kill = (step == next_kill).then(|| {
            next_kill = step + rng.random_range(2..7);
            KILLS[h.kills.len() % KILLS.len()]
        });
        h.hand_over();
        let began = Instant::now();
        match kill {
            None => {
                h.await_done(false);
                // A moving average of how long an answer takes (read, save, send).
                typical = (typical * 7 + began.elapsed()) / 8;
            }
            Some(k @ Kill::AtOnce) => h.crash(k),
            Some(k @ Kill::AfterDelay) => {
                let us = typical.as_micros() as u64;
                std::thread::sleep(Duration::from_micros(rng.random_range(us / 2..=us)));
                h.crash(k)
            }
            Some(k @ Kill::AfterFirstSend) => {
                if h.await_done(true) {
                    // Nothing was sent for this one: kill after the next that sends.
                    next_kill = step + 1;
                } else {
                    h.crash(k)
                }
            }
            Some(k @ Kill::Between) => {
                h.await_done(false);
                h.crash(k)
            }
        }
    }

    // Every message read once, every answer read by libotr once, all still private.
    let unfinished: Vec<usize> = (0..n).filter(|&i| h.sent[i] < MESSAGES).collect();
    if !unfinished.is_empty() {
        h.fail(&format!("learners {unfinished:?} never got private"));
    }
    for i in 0..n {
        if h.child_next[i] != MESSAGES + 1 {
            h.fail(&format!(
                "learner {i}: the bot read {} messages of {MESSAGES}",
                h.child_next[i] - 1
            ));
        }
        let expected: BTreeSet<(u32, u32)> = (1..=MESSAGES)
            .flat_map(|k| (1..=replies_to(k)).map(move |j| (k, j)))
            .collect();
        let missing: Vec<_> = expected.difference(&h.lib_read[i]).collect();
        if !missing.is_empty() {
            h.fail(&format!(
                "learner {i}: answers never read by libotr: {missing:?}"
            ));
        }
        assert_eq!(h.peers[i].status(BOT).msgstate, MsgState::Encrypted);
    }
    if h.kills.len() < 10 {
        h.fail(&format!("only {} kills", h.kills.len()));
    }
    if h.ledger.max_ctr < 3 {
        h.fail("counters never went past 2: the test exercised too little");
    }

    // A clean stop, then the store as a restarted bot would find it.
    let mut c = h.child.take().unwrap();
    writeln!(c.stdin, "quit").unwrap();
    drop(c.stdin);
    assert!(c.child.wait().unwrap().success());
    let store = open_retrying(d.path());
    assert_eq!(store.session_count(), n);
    for i in 0..n {
        let saved = decode(store.channel_state(&jid(i)).unwrap().unwrap().expose());
        assert_eq!(saved.last_seq, h.acked[i]);
        assert_eq!(saved.last_seq, h.next_seq[i]);
        assert!(
            saved.channel.is_encrypted(),
            "learner {i} no longer private"
        );
        assert!(store.otr_key(&jid(i)).unwrap().is_some());
    }
    eprintln!(
        "{} runs, {} kills ({:?}); {} data messages from the bot, highest counter {}, \
         {} restarts found a message read and saved but not acknowledged, {} data messages \
         sent again ({} wire messages dropped as duplicates, {} reads re-reported); \
         no key and counter used twice",
        h.run,
        h.kills.len(),
        h.kills,
        h.ledger.data_messages,
        h.ledger.max_ctr,
        h.saved_unacked,
        h.ledger.retransmissions,
        h.dropped_dups,
        h.reprinted_delivers
    );
}
