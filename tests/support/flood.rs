//! Helpers for flood and load suites: a bot for several learners, the admin CLI as JSON, the
//! bot's resident memory, latency figures, and the hostile stanzas a stranger sends.

use super::learner::{spawn_bot, Bot};
use super::prosody;
use std::path::PathBuf;
use std::time::Duration;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::Stanza;

/// Starts `otrbot run` whitelisting every JID in `learners` (locale en_GB); each `(from, to)`
/// in `edits` replaces a line of settings/test.toml (it must be there).
pub fn start_bot_for(learners: &[String], edits: &[(&str, &str)]) -> Bot {
    let (jid, pw) = prosody::fresh_account("teacher");
    let dir = tempfile::tempdir().unwrap();
    let mut text = prosody::settings_text(&jid, &pw, &dir.path().join("data"));
    for (from, to) in edits {
        assert!(text.contains(from), "settings/test.toml has no {from:?}");
        text = text.replace(from, to);
    }
    text.push_str("\n[whitelist]\n");
    for l in learners {
        text.push_str(&format!("{l:?} = \"en_GB\"\n"));
    }
    std::fs::write(dir.path().join("bot.toml"), text).unwrap();
    spawn_bot(&jid, dir)
}

/// The settings file of a bot started by [`start_bot_for`] or `start_bot_as`.
pub fn settings_file(bot: &Bot) -> PathBuf {
    bot.dir.path().join("bot.toml")
}

/// Runs `otrbot ARGS --settings <the bot's>` (through the running bot's admin socket) and
/// parses its `--json` output.
pub fn admin_json(bot: &Bot, args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_otrbot"))
        .args(args)
        .arg("--settings")
        .arg(settings_file(bot))
        .output()
        .expect("run otrbot");
    assert!(
        out.status.success(),
        "otrbot {args:?}: exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from the admin CLI")
}

/// The JIDs in a `sessions list --json` or `whitelist list --json` answer.
pub fn jids(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .expect("a JSON array")
        .iter()
        .map(|e| e["jid"].as_str().expect("a jid").to_owned())
        .collect()
}

/// The resident set size of process `pid` in KiB (VmRSS of /proc/PID/status).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc status")
}

/// Latency figures of a set of samples.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    /// How many samples.
    pub n: usize,
    /// Median.
    pub p50: Duration,
    /// 99th percentile (nearest rank).
    pub p99: Duration,
    /// Largest.
    pub max: Duration,
}

/// The figures of `samples` (which must not be empty).
pub fn figures(samples: &[Duration]) -> Figures {
    assert!(!samples.is_empty(), "no latency samples");
    let mut s = samples.to_vec();
    s.sort();
    let rank = |p: f64| s[((p * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1];
    Figures {
        n: s.len(),
        p50: rank(0.50),
        p99: rank(0.99),
        max: s[s.len() - 1],
    }
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        write!(
            f,
            "n={:4}  p50={:8.1} ms  p99={:8.1} ms  max={:8.1} ms",
            self.n,
            ms(self.p50),
            ms(self.p99),
            ms(self.max)
        )
    }
}

/// A stanza from its XML (namespace jabber:client is added).
pub fn raw(xml: &str) -> Stanza {
    let xml = xml.replacen(' ', " xmlns='jabber:client' ", 1);
    let el: Element = xml.parse().unwrap_or_else(|e| panic!("{xml}: {e}"));
    Stanza::try_from(el).unwrap_or_else(|e| panic!("{xml}: {e:?}"))
}

/// Letters and digits that look like base64 but are not valid OTR.
pub fn junk(len: usize, seed: usize) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/*!";
    (0..len)
        .map(|i| A[(i.wrapping_mul(31) ^ seed.wrapping_mul(17)) % A.len()] as char)
        .collect()
}

/// A body larger than the bot's bound, below Prosody's 256 KiB stanza limit.
pub const HUGE_BODY: usize = 200 * 1024;

/// The `i`-th hostile stanza a stranger `me` sends to `bot` (its bare or full JID: iqs to a
/// bare JID are answered by the server): subscription requests, chat messages, OTR-looking
/// garbage, fragments never completed, huge bodies, messages without body, odd message
/// types, iq and presence oddities.
pub fn hostile_stanza(i: usize, bot: &str, me: &str) -> Stanza {
    let chat = |body: &str| {
        raw(&format!(
            "<message to='{bot}' type='chat'><body>{body}</body></message>"
        ))
    };
    match i % 24 {
        0 => raw(&format!("<presence to='{bot}' type='subscribe'/>")),
        1 => chat(&format!("hello {i}")),
        2 => chat(&format!("?OTR:{}.", junk(200 + i % 300, i))),
        // A truncated DH-Commit and a truncated data message (v3 headers, cut short).
        3 => chat("?OTR:AAMCAAABAAAAAAAAAMQ=."),
        4 => chat("?OTR:AAMDAAABAAAAAQIAAAAB."),
        5 => chat("?OTRv23?"),
        6 => chat(&format!(
            "?OTR|{:08x}|00000000,00001,00010,{},",
            0x100 + i,
            junk(1000, i)
        )),
        7 => chat(&format!("?OTR,00001,00005,{},", junk(500, i))),
        8 => raw(&format!(
            "<message to='{bot}' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>"
        )),
        9 => raw(&format!("<message to='{bot}'/>")),
        10 => raw(&format!("<message to='{bot}' type='groupchat'><body>muc {i}</body></message>")),
        11 => raw(&format!("<message to='{bot}' type='headline'><body>news {i}</body></message>")),
        12 => raw(&format!(
            "<message to='{bot}' type='error'><body>?OTR Error: x</body><error type='cancel'><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"
        )),
        13 => raw(&format!(
            "<iq to='{bot}' type='get' id='q{i}'><query xmlns='urn:example:flood'/></iq>"
        )),
        // A forged roster push: the bot accepts those only from its own account.
        14 => raw(&format!(
            "<iq to='{bot}' type='set' id='r{i}'><query xmlns='jabber:iq:roster'><item jid='{me}' subscription='both'/></query></iq>"
        )),
        15 => raw(&format!("<iq to='{bot}' type='result' id='otrbot-roster'/>")),
        16 => raw(&format!("<presence to='{bot}' type='probe'/>")),
        17 => raw(&format!("<presence to='{bot}' type='unsubscribe'/>")),
        18 => raw(&format!(
            "<presence to='{bot}'><status>{}</status><priority>127</priority></presence>",
            junk(2000, i)
        )),
        19 => raw(&format!("<presence to='{bot}' type='error'/>")),
        // Huge bodies every other round (they load the server more than the bot).
        20 if (i / 24) % 2 == 0 => chat(&format!("?OTR:{}.", "A".repeat(HUGE_BODY))),
        22 if (i / 24) % 2 == 1 => chat(&"x".repeat(HUGE_BODY)),
        20..=22 => chat(&format!("?OTR:{}.", junk(60 * 1024, i))),
        _ => raw(&format!("<presence to='{bot}' type='subscribe'/>")),
    }
}
