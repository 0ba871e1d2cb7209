//! An OMEMO learner device: tests/omemo/clients/learner.py (slixmpp-omemo + python-omemo, an
//! implementation independent of ours) driven over JSON lines, against the loopback Prosody.

use super::prosody;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long one answer or message is waited for.
pub const T: Duration = Duration::from_secs(40);

/// One learner device.
pub struct Device {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<Value>,
    /// Messages received and not yet taken.
    pub inbox: Vec<Value>,
    /// This device's id.
    pub id: u32,
    /// This device's fingerprint (64 hex).
    pub fingerprint: String,
    /// Where its state is kept (a restart with it keeps the device).
    pub state: tempfile::TempDir,
}

impl Drop for Device {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Device {
    /// Starts a device of `jid` (`trust`: `manual` or `blind`) and waits until it is ready.
    pub fn start(jid: &str, pw: &str, resource: &str, trust: &str) -> Device {
        let python = std::env::var("OTRBOT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let state = tempfile::tempdir().unwrap();
        let mut child = Command::new(python)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/omemo/clients/learner.py"
            ))
            .args(["--jid", jid, "--password", pw, "--resource", resource])
            .args(["--server", &format!("127.0.0.1:{}", prosody::port())])
            .arg("--state")
            .arg(state.path())
            .arg("--cafile")
            .arg(prosody::ca_file())
            .args(["--trust", trust])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python with slixmpp-omemo (scripts/test makes .run/python)");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => {
                        if tx.send(v).is_err() {
                            break;
                        }
                    }
                    Err(_) => eprintln!("learner.py: {line}"),
                }
            }
        });
        let mut d = Device {
            child,
            stdin,
            lines,
            inbox: Vec::new(),
            id: 0,
            fingerprint: String::new(),
            state,
        };
        let ready = d.next_event("ready");
        d.id = ready["device_id"].as_u64().unwrap() as u32;
        d.fingerprint = ready["fingerprint"].as_str().unwrap().to_owned();
        d
    }

    /// The next event named `name`; messages meanwhile go to the inbox.
    fn next_event(&mut self, name: &str) -> Value {
        let until = Instant::now() + T;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let v = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("learner.py: no {name} within {T:?}"));
            match v["event"].as_str() {
                Some(e) if e == name => return v,
                Some("message") => self.inbox.push(v),
                Some("error") if name != "error" => panic!("learner.py: {v}"),
                _ => panic!("learner.py: expected {name}, got {v}"),
            }
        }
    }

    /// Sends a command and returns its answer (an `error` answer panics unless `name` is it).
    pub fn call(&mut self, cmd: Value, name: &str) -> Value {
        writeln!(self.stdin, "{cmd}").unwrap();
        self.stdin.flush().unwrap();
        self.next_event(name)
    }

    /// Accepts the bot's subscription and asks for its own.
    pub fn subscribe(&mut self, bot: &str) {
        self.call(json!({"cmd": "subscribe", "jid": bot}), "subscribed");
    }

    /// Says `text` in plain text.
    pub fn say_plain(&mut self, to: &str, text: &str) {
        self.call(
            json!({"cmd": "send", "to": to, "text": text, "encrypt": false}),
            "sent",
        );
    }

    /// Says `text` with OMEMO; the rids it was encrypted for.
    pub fn say_encrypted(&mut self, to: &str, text: &str) -> Vec<u32> {
        let sent = self.call(
            json!({"cmd": "send", "to": to, "text": text, "encrypt": true}),
            "sent",
        );
        sent["rids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_u64().unwrap() as u32)
            .collect()
    }

    /// The devices of `jid` with their fingerprints and trust.
    pub fn devices(&mut self, jid: &str) -> Vec<(u32, String)> {
        let v = self.call(json!({"cmd": "devices", "jid": jid}), "devices");
        v["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["id"].as_u64().unwrap() as u32,
                    d["fingerprint"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// Sets the trust in `jid`'s device with fingerprint `fp`.
    pub fn trust(&mut self, jid: &str, fp: &str, state: &str) {
        self.call(
            json!({"cmd": "trust", "jid": jid, "fingerprint": fp, "state": state}),
            "trusted",
        );
    }

    /// Waits for a message whose text contains `part`; returns it (earlier ones stay).
    pub fn wait_for(&mut self, part: &str) -> Value {
        let until = Instant::now() + T;
        loop {
            if let Some(i) = self
                .inbox
                .iter()
                .position(|m| m["text"].as_str().is_some_and(|t| t.contains(part)))
            {
                return self.inbox.remove(i);
            }
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) if v["event"] == "message" => self.inbox.push(v),
                Ok(v) => panic!("learner.py: unexpected {v}"),
                Err(_) => panic!(
                    "no message containing {part:?} within {T:?}; got {:#?}",
                    self.inbox
                ),
            }
        }
    }

    /// Messages that arrive within `d` (and those already waiting), taken.
    pub fn drain_for(&mut self, d: Duration) -> Vec<Value> {
        let until = Instant::now() + d;
        while let Ok(v) = self
            .lines
            .recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            if v["event"] == "message" {
                self.inbox.push(v);
            }
        }
        std::mem::take(&mut self.inbox)
    }
}
