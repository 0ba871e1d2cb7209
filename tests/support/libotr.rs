//! Driver for the libotr test peer (`tests/peer/otrpeer.c`, real libotr 4.1.1).
//!
//! One [`Peer`] is one child process holding one libotr `OtrlUserState` with one
//! local account (protocol `"xmpp"`). Every method sends one command line and
//! collects the peer's output up to its closing `ok` (or panics on `err`, showing
//! the recent transcript and the peer's stderr; use [`Peer::command`] to see
//! errors instead). A reply that does not come within [`DEFAULT_TIMEOUT`] fails
//! the test with a clear message rather than hanging it.
//!
//! # Driving libotr against another OTR implementation
//!
//! libotr never talks to the network itself: whatever it wants sent comes back
//! in [`Outcome::inject`] (fragments in order, one entry each). Deliver every
//! injected message, in order, to the other side, and feed everything the other
//! side sends into [`Peer::recv`]. Plaintext for the libotr user comes back in
//! [`Outcome::deliver`]; callbacks (gone secure, SMP progress, ...) in
//! [`Outcome::events`].
//!
//! ```ignore
//! mod support;
//! use support::libotr::{Peer, Event, MsgState, policy};
//!
//! let mut lib = Peer::with_key("alice");          // account "alice@test"
//! lib.policy(policy::ALLOW_V2 | policy::ALLOW_V3);
//! let out = lib.query("bot@test");               // libotr's query message
//! for wire in out.inject {
//!     let replies = my_engine.receive(&wire);     // the implementation under test
//!     for r in replies {
//!         let o = lib.recv("bot@test", &r);       // contact = the sender's account
//!         // ... deliver o.inject back to my_engine, until both sides are quiet
//!     }
//! }
//! assert_eq!(lib.status("bot@test").msgstate, MsgState::Encrypted);
//! ```
//!
//! Two peers can be wired together with [`converse`], which relays injects both
//! ways until both are quiet (see `tests/libotr_peer.rs`).
//!
//! # Notes on libotr behaviour surfaced here
//! - `send` in plaintext state returns the message itself as an inject (with a
//!   whitespace tag if the policy says so): that is what a client would send.
//! - Empty injects (libotr's `""` when sending to a FINISHED context) are dropped.
//! - libotr 4.1.1 never calls `gone_insecure`: a received disconnect TLV only moves
//!   the context to [`MsgState::Finished`], and `finish` moves ours to plaintext.
//!   Check [`Peer::status`].
//! - Like pidgin-otr, the peer answers `OTRL_SMPEVENT_CHEATED`/`OTRL_SMPEVENT_ERROR`
//!   by aborting the SMP (an inject carrying the SMP abort TLV).
//! - Event and SMP kinds are libotr's enum names, e.g. `OTRL_SMPEVENT_SUCCESS`,
//!   `OTRL_MSGEVENT_RCVDMSG_UNREADABLE`, `OTRL_ERRCODE_MSG_MALFORMED`.
//! - The peer's default policy is `OTRL_POLICY_DEFAULT` = 0x76 ([`policy::DEFAULT`]).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::keys;

/// How long a command may take before the test fails (bench commands get [`BENCH_TIMEOUT`]).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Timeout used for `bench` commands.
pub const BENCH_TIMEOUT: Duration = Duration::from_secs(600);

/// How many transcript lines are kept for failure messages.
const TRANSCRIPT_LINES: usize = 60;

/// libotr's `OtrlPolicy` bits (proto.h).
pub mod policy {
    /// OTRL_POLICY_ALLOW_V1.
    pub const ALLOW_V1: u32 = 0x01;
    /// OTRL_POLICY_ALLOW_V2.
    pub const ALLOW_V2: u32 = 0x02;
    /// OTRL_POLICY_ALLOW_V3.
    pub const ALLOW_V3: u32 = 0x04;
    /// OTRL_POLICY_REQUIRE_ENCRYPTION.
    pub const REQUIRE_ENCRYPTION: u32 = 0x08;
    /// OTRL_POLICY_SEND_WHITESPACE_TAG.
    pub const SEND_WHITESPACE_TAG: u32 = 0x10;
    /// OTRL_POLICY_WHITESPACE_START_AKE.
    pub const WHITESPACE_START_AKE: u32 = 0x20;
    /// OTRL_POLICY_ERROR_START_AKE.
    pub const ERROR_START_AKE: u32 = 0x40;
    /// OTRL_POLICY_MANUAL: v2 and v3, nothing automatic.
    pub const MANUAL: u32 = ALLOW_V2 | ALLOW_V3;
    /// OTRL_POLICY_OPPORTUNISTIC = OTRL_POLICY_DEFAULT (0x76).
    pub const DEFAULT: u32 =
        ALLOW_V2 | ALLOW_V3 | SEND_WHITESPACE_TAG | WHITESPACE_START_AKE | ERROR_START_AKE;
    /// OTRL_POLICY_ALWAYS.
    pub const ALWAYS: u32 =
        ALLOW_V2 | ALLOW_V3 | REQUIRE_ENCRYPTION | WHITESPACE_START_AKE | ERROR_START_AKE;
}

/// One `event ...` line of the peer: a libotr callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// gone_secure op.
    GoneSecure { contact: String },
    /// gone_insecure op (never called by libotr 4.1.1, kept for completeness).
    GoneInsecure { contact: String },
    /// still_secure op (an AKE refreshed an existing session).
    StillSecure { contact: String },
    /// new_fingerprint op: the contact's 20-byte key fingerprint.
    NewFingerprint {
        contact: String,
        fingerprint: Vec<u8>,
    },
    /// handle_msg_event op: `kind` like `OTRL_MSGEVENT_RCVDMSG_UNENCRYPTED`; `message`
    /// is libotr's message argument (or the gcrypt error text for SETUP_ERROR).
    Message {
        contact: String,
        kind: String,
        message: Option<Vec<u8>>,
    },
    /// handle_smp_event op: `kind` like `OTRL_SMPEVENT_SUCCESS`, progress in percent.
    Smp {
        contact: String,
        kind: String,
        progress: u32,
        question: Option<Vec<u8>>,
    },
    /// received_symkey op: the other side called `otrl_message_symkey`.
    Symkey {
        contact: String,
        usage: u32,
        usedata: Vec<u8>,
        key: Vec<u8>,
    },
    /// timer_control op.
    Timer { interval: u32 },
    /// otr_error_message op: libotr is about to send an OTR error of this code.
    Error { contact: String, code: String },
    /// An event line this driver does not know (kept verbatim).
    Other(String),
}

/// Everything one command produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Messages libotr wants sent to the contact, in order (fragments one each).
    pub inject: Vec<Vec<u8>>,
    /// Plaintext libotr hands to its user.
    pub deliver: Vec<Vec<u8>>,
    /// libotr callbacks, in order.
    pub events: Vec<Event>,
    /// Every raw output line before `ok` (includes contacts and command results).
    pub lines: Vec<String>,
}

impl Outcome {
    /// Appends another outcome to this one.
    pub fn extend(&mut self, other: Outcome) {
        self.inject.extend(other.inject);
        self.deliver.extend(other.deliver);
        self.events.extend(other.events);
        self.lines.extend(other.lines);
    }

    /// Whether any event matches `pred`.
    pub fn has(&self, pred: impl Fn(&Event) -> bool) -> bool {
        self.events.iter().any(pred)
    }

    /// Whether a gone_secure event was reported.
    pub fn gone_secure(&self) -> bool {
        self.has(|e| matches!(e, Event::GoneSecure { .. }))
    }

    /// The (kind, progress) of every SMP event, in order.
    pub fn smp_events(&self) -> Vec<(String, u32)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Smp { kind, progress, .. } => Some((kind.clone(), *progress)),
                _ => None,
            })
            .collect()
    }

    /// Whether an SMP event of `kind` (e.g. `OTRL_SMPEVENT_SUCCESS`) was reported.
    pub fn has_smp(&self, kind: &str) -> bool {
        self.has(|e| matches!(e, Event::Smp { kind: k, .. } if k == kind))
    }

    /// The kinds of all msg_event events, in order.
    pub fn msg_events(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Message { kind, .. } => Some(kind.clone()),
                _ => None,
            })
            .collect()
    }

    /// Delivered plaintexts as (lossy) UTF-8 strings.
    pub fn delivered_text(&self) -> Vec<String> {
        self.deliver
            .iter()
            .map(|d| String::from_utf8_lossy(d).into_owned())
            .collect()
    }
}

/// A command's full reply: what it produced and whether it ended in `err`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    /// Output before the closing line.
    pub outcome: Outcome,
    /// The text after `err`, if the command failed.
    pub err: Option<String>,
}

/// libotr's OtrlMessageState.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgState {
    /// OTRL_MSGSTATE_PLAINTEXT.
    Plaintext,
    /// OTRL_MSGSTATE_ENCRYPTED.
    Encrypted,
    /// OTRL_MSGSTATE_FINISHED.
    Finished,
}

/// The `status` of the best (or master) context for a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Message state.
    pub msgstate: MsgState,
    /// Protocol version of the session (0 before any).
    pub version: u32,
    /// Our instance tag in this context.
    pub our_instag: u32,
    /// Their instance tag (0 for the master context).
    pub their_instag: u32,
    /// Whether the active fingerprint is trusted (after `trust` or a successful SMP).
    pub trusted: bool,
    /// SMP state: `expect1`..`expect5` (next expected SMP message) or `none`.
    pub smp: String,
}

/// A running libotr peer process.
pub struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    transcript: VecDeque<String>,
    account: String,
    timeout: Duration,
}

impl Peer {
    /// Builds the peer (once per test binary, cached under the target dir) and starts it.
    /// Its account is `peer@test` with no key loaded and policy [`policy::DEFAULT`].
    pub fn spawn() -> Peer {
        let bin = peer_binary();
        let mut child = Command::new(&bin)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start libotr peer {}: {e}", bin.display()));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr_pipe = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut pipe = stderr_pipe;
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut s = sink.lock().unwrap_or_else(|p| p.into_inner());
                if s.len() < 64 * 1024 {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        Peer {
            child,
            stdin,
            lines: rx,
            stderr,
            transcript: VecDeque::new(),
            account: "peer@test".to_string(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Starts a peer with account `<name>@test` and the fixture key `tests/fixtures/libotr/<name>.key`
    /// (`name` one of [`keys::FIXTURE_NAMES`]).
    pub fn with_key(name: &str) -> Peer {
        let mut p = Peer::spawn();
        p.account(&keys::fixture_account(name));
        p.load_key(keys::fixture_key_path(name));
        p
    }

    /// The local account name this peer uses (the contact name the other side must use).
    pub fn account_name(&self) -> &str {
        &self.account
    }

    /// Sets the per-command reply timeout.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Sends one raw command line and returns its reply, `err` included (panics only on
    /// timeout or a dead peer).
    pub fn command(&mut self, line: &str) -> Reply {
        let timeout = self.timeout;
        self.command_with_timeout(line, timeout)
    }

    fn command_with_timeout(&mut self, line: &str, timeout: Duration) -> Reply {
        assert!(
            !line.contains('\n'),
            "libotr peer command must be one line: {}",
            clip(line)
        );
        self.note(format!("> {}", clip(line)));
        let written = match self.stdin.as_mut() {
            Some(stdin) => stdin
                .write_all(line.as_bytes())
                .and_then(|()| stdin.write_all(b"\n"))
                .and_then(|()| stdin.flush()),
            None => Err(std::io::Error::other("stdin closed")),
        };
        if let Err(e) = written {
            self.fail(&format!("cannot write `{}` to the peer: {e}", clip(line)));
        }
        let mut reply = Reply::default();
        loop {
            match self.lines.recv_timeout(timeout) {
                Ok(out) => {
                    self.note(format!("< {}", clip(&out)));
                    if out == "ok" {
                        return reply;
                    }
                    if out == "err" || out.starts_with("err ") {
                        reply.err = Some(out.get(4..).unwrap_or("").to_string());
                        return reply;
                    }
                    if let Err(e) = parse_line(&out, &mut reply.outcome) {
                        self.fail(&format!("unparsable peer output `{}`: {e}", clip(&out)));
                    }
                    reply.outcome.lines.push(out);
                }
                Err(RecvTimeoutError::Timeout) => self.fail(&format!(
                    "no reply to `{}` within {timeout:?} (peer hung?)",
                    clip(line)
                )),
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.try_wait().ok().flatten();
                    self.fail(&format!(
                        "peer exited (status {status:?}) while running `{}`",
                        clip(line)
                    ))
                }
            }
        }
    }

    /// Runs a command that must succeed; panics with the transcript on `err`.
    fn run(&mut self, line: &str) -> Outcome {
        let timeout = self.timeout;
        self.run_with_timeout(line, timeout)
    }

    fn run_with_timeout(&mut self, line: &str, timeout: Duration) -> Outcome {
        let reply = self.command_with_timeout(line, timeout);
        match reply.err {
            None => reply.outcome,
            Some(e) => self.fail(&format!("command `{}` failed: err {e}", clip(line))),
        }
    }

    fn note(&mut self, line: String) {
        if self.transcript.len() == TRANSCRIPT_LINES {
            self.transcript.pop_front();
        }
        self.transcript.push_back(line);
    }

    fn fail(&self, what: &str) -> ! {
        let stderr = self
            .stderr
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone());
        let transcript: Vec<&str> = self.transcript.iter().map(String::as_str).collect();
        panic!(
            "libotr peer {}: {what}\n--- recent transcript ---\n{}\n--- peer stderr ---\n{}",
            self.account,
            transcript.join("\n"),
            stderr
        );
    }

    /// Sets the local account name (`account NAME`).
    pub fn account(&mut self, name: &str) {
        check_token(name);
        self.run(&format!("account {name}"));
        self.account = name.to_string();
    }

    /// Loads a libotr s-expression key file (`loadkey PATH`).
    pub fn load_key(&mut self, path: impl AsRef<Path>) {
        let p = path_arg(path.as_ref());
        self.run(&format!("loadkey {p}"));
    }

    /// Generates a DSA key for the account into `path` and loads it (`genkey PATH`).
    pub fn gen_key(&mut self, path: impl AsRef<Path>) {
        let p = path_arg(path.as_ref());
        self.run_with_timeout(&format!("genkey {p}"), BENCH_TIMEOUT);
    }

    /// Where the create_privkey op writes a key libotr asks for (`autokey PATH`); without
    /// it, such a key goes to a temporary file.
    pub fn autokey(&mut self, path: impl AsRef<Path>) {
        let p = path_arg(path.as_ref());
        self.run(&format!("autokey {p}"));
    }

    /// Generates a fresh instance tag for the account and returns it.
    pub fn new_instag(&mut self) -> u32 {
        self.run("instag new");
        self.instag()
    }

    /// The account's instance tag (generated on first use).
    pub fn instag(&mut self) -> u32 {
        let out = self.run("instag");
        let v = result_field(&out, "instag").unwrap_or_else(|| self.fail("no instag line"));
        u32::from_str_radix(&v, 16).unwrap_or_else(|_| self.fail("bad instag"))
    }

    /// Sets the policy the policy op returns (see [`policy`]).
    pub fn policy(&mut self, mask: u32) {
        self.run(&format!("policy {mask:x}"));
    }

    /// Sets the max_message_size op's value (0 = no fragmentation; else at least 48).
    pub fn max_size(&mut self, n: usize) {
        self.run(&format!("maxsize {n}"));
    }

    /// otrl_message_sending of `plaintext` to `contact`.
    pub fn send(&mut self, contact: &str, plaintext: &[u8]) -> Outcome {
        check_token(contact);
        self.run(&format!("send {contact} {}", hex(plaintext)))
    }

    /// otrl_message_receiving of a wire message from `contact`.
    pub fn recv(&mut self, contact: &str, wire: &[u8]) -> Outcome {
        check_token(contact);
        self.run(&format!("recv {contact} {}", hex(wire)))
    }

    /// Sends libotr's query message for the current policy to `contact`.
    pub fn query(&mut self, contact: &str) -> Outcome {
        check_token(contact);
        self.run(&format!("query {contact}"))
    }

    /// otrl_message_disconnect_all_instances for `contact`.
    pub fn finish(&mut self, contact: &str) -> Outcome {
        check_token(contact);
        self.run(&format!("finish {contact}"))
    }

    /// Starts SMP with `secret` (and an optional question) on the encrypted context.
    pub fn smp_start(&mut self, contact: &str, secret: &[u8], question: Option<&[u8]>) -> Outcome {
        check_token(contact);
        let q = question.map(|q| format!(" {}", hex(q))).unwrap_or_default();
        self.run(&format!("smp_start {contact} {}{q}", hex(secret)))
    }

    /// Answers the contact's SMP with `secret`.
    pub fn smp_respond(&mut self, contact: &str, secret: &[u8]) -> Outcome {
        check_token(contact);
        self.run(&format!("smp_respond {contact} {}", hex(secret)))
    }

    /// Aborts the SMP with `contact`.
    pub fn smp_abort(&mut self, contact: &str) -> Outcome {
        check_token(contact);
        self.run(&format!("smp_abort {contact}"))
    }

    /// otrl_message_symkey: returns the 32-byte extra symmetric key and the outcome
    /// (whose inject tells the other side to use it).
    pub fn symkey(&mut self, contact: &str, usage: u32, usedata: &[u8]) -> ([u8; 32], Outcome) {
        check_token(contact);
        let out = self.run(&format!("symkey {contact} {usage} {}", hex(usedata)));
        let v = result_field(&out, "symkey").unwrap_or_else(|| self.fail("no symkey line"));
        let bytes = unhex(&v).unwrap_or_else(|e| self.fail(&e));
        let key: [u8; 32] = bytes
            .try_into()
            .unwrap_or_else(|_| self.fail("symkey is not 32 bytes"));
        (key, out)
    }

    /// Marks the contact's active fingerprint as trusted.
    pub fn trust(&mut self, contact: &str) {
        check_token(contact);
        self.run(&format!("trust {contact}"));
    }

    /// Status of the best (else master) context for `contact`.
    pub fn status(&mut self, contact: &str) -> Status {
        check_token(contact);
        let out = self.run(&format!("status {contact}"));
        let line = out
            .lines
            .iter()
            .find(|l| l.starts_with("status "))
            .cloned()
            .unwrap_or_else(|| self.fail("no status line"));
        parse_status(&line).unwrap_or_else(|e| self.fail(&format!("bad status line: {e}")))
    }

    /// The 20-byte fingerprint of our own key.
    pub fn fingerprint(&mut self) -> [u8; 20] {
        let out = self.run("fingerprint");
        let v = result_field(&out, "fingerprint").unwrap_or_else(|| self.fail("no fingerprint"));
        let bytes = unhex(&v).unwrap_or_else(|e| self.fail(&e));
        bytes
            .try_into()
            .unwrap_or_else(|_| self.fail("fingerprint is not 20 bytes"))
    }

    /// otrl_message_poll (what the timer would call).
    pub fn poll(&mut self) -> Outcome {
        self.run("poll")
    }

    /// Forgets all contexts (like a client restart) and takes a new instance tag.
    pub fn forget(&mut self) {
        self.run("forget");
    }

    /// The libotr version string (e.g. "4.1.1").
    pub fn version(&mut self) -> String {
        let out = self.run("version");
        result_field(&out, "version").unwrap_or_else(|| self.fail("no version line"))
    }

    /// Sets the second key used by the `bench` commands (the first is the loaded key).
    pub fn bench_key(&mut self, path: impl AsRef<Path>) {
        let p = path_arg(path.as_ref());
        self.run(&format!("bench key {p}"));
    }

    /// Time for `n` complete AKEs (query to both gone secure, fresh contexts each)
    /// between two libotr userstates in the peer process.
    pub fn bench_ake(&mut self, n: u32) -> Duration {
        self.bench(&format!("ake {n}"))
    }

    /// Time for `n` data messages of `size` bytes, one direction, encrypted and decrypted.
    pub fn bench_data(&mut self, n: u32, size: usize) -> Duration {
        self.bench(&format!("data {n} {size}"))
    }

    /// Time for `n` complete SMP runs with the right secret (both sides succeed).
    pub fn bench_smp(&mut self, n: u32) -> Duration {
        self.bench(&format!("smp {n}"))
    }

    fn bench(&mut self, args: &str) -> Duration {
        let out = self.run_with_timeout(&format!("bench {args}"), BENCH_TIMEOUT);
        let line = out
            .lines
            .iter()
            .find(|l| l.starts_with("bench "))
            .cloned()
            .unwrap_or_else(|| self.fail("no bench line"));
        let nanos: u64 = line
            .split_whitespace()
            .nth(3)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| self.fail(&format!("bad bench line `{line}`")));
        Duration::from_nanos(nanos)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"quit\n");
            let _ = stdin.flush();
        }
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Relays `msgs` (injects of `from`) into `to`, in order; returns `to`'s combined outcome.
pub fn relay(from: &Peer, to: &mut Peer, msgs: &[Vec<u8>]) -> Outcome {
    let contact = from.account.clone();
    let mut total = Outcome::default();
    for m in msgs {
        total.extend(to.recv(&contact, m));
    }
    total
}

/// Relays injects between `a` and `b` until both are quiet, starting with `first`
/// (an outcome of `a`, e.g. from `a.query(..)`); returns the total outcomes of `a`
/// (including `first`) and `b`. Panics if the exchange does not settle in 100 rounds.
pub fn converse(a: &mut Peer, b: &mut Peer, first: Outcome) -> (Outcome, Outcome) {
    let mut to_b = first.inject.clone();
    let mut total_a = first;
    let mut total_b = Outcome::default();
    for _ in 0..100 {
        if to_b.is_empty() {
            return (total_a, total_b);
        }
        let out_b = relay(a, b, &to_b);
        let to_a = out_b.inject.clone();
        total_b.extend(out_b);
        let out_a = relay(b, a, &to_a);
        to_b = out_a.inject.clone();
        total_a.extend(out_a);
    }
    panic!(
        "libotr peers {} and {} did not settle in 100 rounds",
        a.account, b.account
    );
}

/// Lower-case hex, `-` for empty (the peer's encoding).
pub fn hex(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "-".to_string();
    }
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Decodes the peer's hex (`-` is empty).
pub fn unhex(s: &str) -> Result<Vec<u8>, String> {
    if s == "-" {
        return Ok(Vec::new());
    }
    if s.len() % 2 != 0 {
        return Err(format!("odd-length hex `{}`", clip(s)));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or_else(|| format!("bad hex `{}`", clip(s)))
        })
        .collect()
}

fn check_token(s: &str) {
    assert!(
        !s.is_empty() && !s.chars().any(char::is_whitespace),
        "libotr peer argument must be one non-empty word: {s:?}"
    );
}

fn path_arg(p: &Path) -> String {
    let s = p
        .to_str()
        .unwrap_or_else(|| panic!("non-UTF-8 path {}", p.display()))
        .to_string();
    check_token(&s);
    s
}

fn clip(s: &str) -> String {
    const MAX: usize = 240;
    if s.len() <= MAX {
        s.to_string()
    } else {
        let mut end = MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}... ({} bytes)", &s[..end], s.len())
    }
}

fn result_field(out: &Outcome, name: &str) -> Option<String> {
    out.lines.iter().find_map(|l| {
        let mut it = l.split_whitespace();
        if it.next() == Some(name) {
            it.next().map(str::to_string)
        } else {
            None
        }
    })
}

fn parse_line(line: &str, out: &mut Outcome) -> Result<(), String> {
    let toks: Vec<&str> = line.split_whitespace().collect();
    match toks.first().copied() {
        Some("inject") if toks.len() == 3 => out.inject.push(unhex(toks[2])?),
        Some("deliver") if toks.len() == 3 => out.deliver.push(unhex(toks[2])?),
        Some("inject") | Some("deliver") => return Err("wrong field count".into()),
        Some("event") => out.events.push(parse_event(line, &toks)),
        _ => {}
    }
    Ok(())
}

fn parse_event(line: &str, t: &[&str]) -> Event {
    let other = || Event::Other(line.to_string());
    let opt_hex =
        |i: usize| -> Result<Option<Vec<u8>>, String> { t.get(i).map(|h| unhex(h)).transpose() };
    let contact = |i: usize| t.get(i).map(|s| s.to_string());
    let parsed: Option<Event> = match (t.get(1).copied(), t.len()) {
        (Some("gone_secure"), 3) => contact(2).map(|contact| Event::GoneSecure { contact }),
        (Some("gone_insecure"), 3) => contact(2).map(|contact| Event::GoneInsecure { contact }),
        (Some("still_secure"), 3) => contact(2).map(|contact| Event::StillSecure { contact }),
        (Some("new_fingerprint"), 4) => unhex(t[3]).ok().map(|fingerprint| Event::NewFingerprint {
            contact: t[2].to_string(),
            fingerprint,
        }),
        (Some("msg_event"), 4 | 5) => opt_hex(4).ok().map(|message| Event::Message {
            contact: t[2].to_string(),
            kind: t[3].to_string(),
            message,
        }),
        (Some("smp"), 5 | 6) => match (t[4].parse().ok(), opt_hex(5).ok()) {
            (Some(progress), Some(question)) => Some(Event::Smp {
                contact: t[2].to_string(),
                kind: t[3].to_string(),
                progress,
                question,
            }),
            _ => None,
        },
        (Some("symkey"), 6) => match (t[3].parse().ok(), unhex(t[4]).ok(), unhex(t[5]).ok()) {
            (Some(usage), Some(usedata), Some(key)) => Some(Event::Symkey {
                contact: t[2].to_string(),
                usage,
                usedata,
                key,
            }),
            _ => None,
        },
        (Some("timer"), 3) => t[2].parse().ok().map(|interval| Event::Timer { interval }),
        (Some("error"), 4) => Some(Event::Error {
            contact: t[2].to_string(),
            code: t[3].to_string(),
        }),
        _ => None,
    };
    parsed.unwrap_or_else(other)
}

fn parse_status(line: &str) -> Result<Status, String> {
    let mut msgstate = None;
    let mut version = None;
    let mut our = None;
    let mut their = None;
    let mut trusted = None;
    let mut smp = None;
    for field in line.split_whitespace().skip(1) {
        let (k, v) = field
            .split_once('=')
            .ok_or_else(|| format!("field without '=': {field}"))?;
        let hexu32 = |v: &str| u32::from_str_radix(v, 16).map_err(|e| format!("{k}: {e}"));
        match k {
            "msgstate" => {
                msgstate = Some(match v {
                    "plaintext" => MsgState::Plaintext,
                    "encrypted" => MsgState::Encrypted,
                    "finished" => MsgState::Finished,
                    _ => return Err(format!("unknown msgstate {v}")),
                })
            }
            "version" => version = Some(v.parse().map_err(|e| format!("version: {e}"))?),
            "our_instag" => our = Some(hexu32(v)?),
            "their_instag" => their = Some(hexu32(v)?),
            "trusted" => trusted = Some(v == "1"),
            "smp" => smp = Some(v.to_string()),
            _ => {}
        }
    }
    let missing = |n: &str| format!("missing {n}");
    Ok(Status {
        msgstate: msgstate.ok_or_else(|| missing("msgstate"))?,
        version: version.ok_or_else(|| missing("version"))?,
        our_instag: our.ok_or_else(|| missing("our_instag"))?,
        their_instag: their.ok_or_else(|| missing("their_instag"))?,
        trusted: trusted.ok_or_else(|| missing("trusted"))?,
        smp: smp.ok_or_else(|| missing("smp"))?,
    })
}

/// Path of the peer binary, building it on first use in this process.
fn peer_binary() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BIN.get_or_init(build_peer) {
        Ok(p) => p.clone(),
        Err(e) => panic!("{e}"),
    }
}

fn build_peer() -> Result<PathBuf, String> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peer/otrpeer.c");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("otrpeer");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let bin = dir.join("otrpeer");
    let src_time = std::fs::metadata(&src)
        .and_then(|m| m.modified())
        .map_err(|e| format!("cannot stat {}: {e}", src.display()))?;
    let fresh = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .map(|t| t >= src_time)
        .unwrap_or(false);
    if fresh {
        return Ok(bin);
    }
    // Build to a private name, then rename: concurrent test binaries never see a
    // half-written executable.
    let tmp = dir.join(format!("otrpeer.{}.tmp", std::process::id()));
    let cc = std::env::var("CC").unwrap_or_else(|_| "gcc".to_string());
    let output = Command::new(&cc)
        .arg("-O2")
        .arg("-Wall")
        .arg("-o")
        .arg(&tmp)
        .arg(&src)
        .args(["-lotr", "-lgcrypt"])
        .output()
        .map_err(|e| {
            format!("cannot run `{cc}` to build the libotr test peer: {e} (install gcc and libotr5-dev)")
        })?;
    if !output.status.success() {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "building the libotr test peer failed (needs gcc and libotr5-dev, headers in \
             /usr/include/libotr):\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    std::fs::rename(&tmp, &bin)
        .map_err(|e| format!("cannot move the peer into {}: {e}", bin.display()))?;
    Ok(bin)
}
