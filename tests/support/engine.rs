//! The project's OTR engine as one side of a conversation with the libotr peer: a bot account
//! with the fixture key "bot", and a relay that runs both sides until they are quiet.

use super::keys::engine_account;
use super::libotr::{Outcome, Peer};
use otrbot::otr::{Account, Channel, Event, Output, Policy};

/// The engine's account name (the libotr peer's contact).
pub const BOT: &str = "bot@test";

/// The engine's side: account, channel, every event it reported, and its clock.
pub struct Bot {
    pub account: Account,
    pub channel: Channel,
    pub events: Vec<Event>,
    pub now: u64,
}

impl Bot {
    /// A bot with the fixture key "bot" and this policy.
    pub fn new(policy: Policy) -> Bot {
        let account = engine_account("bot", policy);
        Bot {
            account,
            channel: Channel::new(),
            events: Vec::new(),
            now: 1_000,
        }
    }
}

/// The wire messages of an engine call's output, as bytes.
pub fn injects(out: &Output) -> Vec<Vec<u8>> {
    out.wire.iter().map(|m| m.clone().into_bytes()).collect()
}

/// Relays messages both ways until quiet; returns everything libotr did.
/// With `OTR_DEBUG` set, prints what crosses.
pub fn run(
    bot: &mut Bot,
    lib: &mut Peer,
    mut to_lib: Vec<Vec<u8>>,
    mut to_bot: Vec<Vec<u8>>,
) -> Outcome {
    let debug = std::env::var("OTR_DEBUG").is_ok();
    let mut total = Outcome::default();
    for _ in 0..100 {
        if to_lib.is_empty() && to_bot.is_empty() {
            return total;
        }
        for m in std::mem::take(&mut to_lib) {
            let o = lib.recv(BOT, &m);
            if debug {
                eprintln!(
                    "to lib: {:?} -> {:?}",
                    String::from_utf8_lossy(&m[..m.len().min(12)]),
                    o.lines
                );
            }
            to_bot.extend(o.inject.clone());
            total.extend(o);
        }
        for m in std::mem::take(&mut to_bot) {
            let text = String::from_utf8(m).expect("libotr sends text");
            if debug {
                eprintln!("to bot: {text:?}");
            }
            let out = bot.channel.read(&bot.account, &text, bot.now);
            to_lib.extend(injects(&out));
            bot.events.extend(out.events);
        }
    }
    panic!("no settlement");
}
