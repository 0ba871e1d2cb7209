//! Benchmark (not a timed test): full SMP runs per second through two OTR channels (the four
//! SMP messages travel in encrypted data messages, with their key rotation), side by side with
//! libotr 4.1.1 doing the same (the test peer's in-process `bench smp`: two userstates, one
//! private conversation, SMP through it); and the group primitives.
//!
//! Run with `cargo bench --bench smp` (optionally `-- N` runs, default 20).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use otrbot::otr::group::{self, Exponent};
use otrbot::otr::smp::SmpEvent;
use otrbot::otr::{Account, Channel, Event, Policy};
use support::keys::{engine_account, fixture_key_path};
use support::libotr::Peer;

/// The engine's clock (constant: no heartbeat is made).
const NOW: u64 = 1;

/// One side of the engine's conversation.
struct Side {
    account: Account,
    channel: Channel,
}

impl Side {
    fn new(name: &str) -> Side {
        Side {
            account: engine_account(name, Policy::MANUAL),
            channel: Channel::new(),
        }
    }

    /// Reads `wire`; answers an SMP request with `secret`; true once SMP succeeded.
    fn read(&mut self, wire: &str, secret: &[u8], out: &mut Vec<String>) -> bool {
        let o = self.channel.read(&self.account, wire, NOW);
        out.extend(o.wire);
        let mut success = false;
        for e in o.events {
            match e {
                Event::Smp {
                    event: SmpEvent::AskForSecret,
                    ..
                } => out.extend(
                    self.channel
                        .smp_verify(&self.account, secret, None, NOW)
                        .wire,
                ),
                Event::Smp {
                    event: SmpEvent::Success,
                    ..
                } => success = true,
                Event::Smp { event, .. } if event.outcome().is_some() => {
                    panic!("SMP ended with {event:?}")
                }
                _ => {}
            }
        }
        success
    }
}

/// Relays both ways until quiet; the number of times each side reported SMP success.
fn relay(a: &mut Side, b: &mut Side, mut to_b: Vec<String>, secret: &[u8]) -> (u32, u32) {
    let (mut ok_a, mut ok_b) = (0, 0);
    let mut to_a = Vec::new();
    while !to_b.is_empty() || !to_a.is_empty() {
        for m in std::mem::take(&mut to_b) {
            ok_b += u32::from(b.read(&m, secret, &mut to_a));
        }
        for m in std::mem::take(&mut to_a) {
            ok_a += u32::from(a.read(&m, secret, &mut to_b));
        }
    }
    (ok_a, ok_b)
}

/// A private conversation between the fixture keys alice and bob.
fn private_pair() -> (Side, Side) {
    let (mut a, mut b) = (Side::new("alice"), Side::new("bob"));
    let query = a.channel.init(&a.account).wire;
    relay(&mut a, &mut b, query, b"");
    assert!(a.channel.is_encrypted() && b.channel.is_encrypted());
    (a, b)
}

/// One full SMP exchange with the right secret through the channels; panics unless both
/// sides succeed.
fn smp_run(a: &mut Side, b: &mut Side, secret: &[u8]) {
    let start = a.channel.smp_verify(&a.account, secret, None, NOW).wire;
    assert_eq!(relay(a, b, start, secret), (1, 1), "both sides succeed");
}

/// Mean time of `f` over `n` calls.
fn time(n: u32, mut f: impl FnMut()) -> Duration {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed() / n
}

fn main() {
    let n: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20);

    // Primitives (the fixed-base table is built by the first g_pow).
    let e1536 = Exponent::random(1536);
    let e320 = Exponent::random(320);
    let e256 = Exponent::random(256);
    let t_table = time(1, || drop(group::g_pow(&e320)));
    let base = group::g_pow(&Exponent::random(1536));
    println!("group: first g_pow incl. table build {:>9.1?}", t_table);
    for (name, e) in [("1536", &e1536), ("320", &e320), ("256", &e256)] {
        println!(
            "group: {name:>4}-bit exponent  g_pow {:>9.1?}  pow {:>9.1?}  pow_vartime {:>9.1?}",
            time(20, || drop(group::g_pow(e))),
            time(10, || drop(group::pow(&base, e))),
            time(10, || drop(group::pow_vartime(&base, e))),
        );
    }

    let (mut a, mut b) = private_pair();
    let secret = b"benchmark secret";
    smp_run(&mut a, &mut b, secret);
    let t = Instant::now();
    for _ in 0..n {
        smp_run(&mut a, &mut b, secret);
    }
    let ours = t.elapsed();
    let ours_rate = f64::from(n) / ours.as_secs_f64();
    println!(
        "engine: {n} full SMP runs through the channel in {ours:.2?}: {ours_rate:.1} runs/s ({:.1?} per run)",
        ours / n
    );

    let mut peer = Peer::spawn();
    peer.load_key(fixture_key_path("alice"));
    peer.bench_key(fixture_key_path("bob"));
    peer.bench_smp(1);
    let theirs = peer.bench_smp(n);
    let theirs_rate = f64::from(n) / theirs.as_secs_f64();
    println!(
        "libotr {}: {n} full SMP runs in {theirs:.2?}: {theirs_rate:.1} runs/s ({:.1?} per run)",
        peer.version(),
        theirs / n
    );
    println!(
        "SMP through the channel, ratio engine / libotr: {:.2}x (goal: at least 2x)",
        ours_rate / theirs_rate
    );
}
