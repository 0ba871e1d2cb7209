//! Full AKEs per second and data-message throughput: the project's engine (Rust to Rust)
//! against libotr 4.1.1 (two userstates inside the test peer), in the same run.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use otrbot::otr::{Account, Channel, Event, Policy};
use support::keys::{engine_account, fixture_key_path};
use support::libotr::Peer;

fn account(name: &str) -> Account {
    engine_account(name, Policy::MANUAL)
}

/// One full AKE between fresh channels (query, DH-Commit, DH-Key, Reveal Signature, Signature).
fn engine_ake(a: &Account, b: &Account) -> (Channel, Channel) {
    let (mut ca, mut cb) = (Channel::new(), Channel::new());
    let mut to_b = ca.init(a).wire;
    while !to_b.is_empty() {
        let mut to_a = Vec::new();
        for m in to_b.drain(..) {
            to_a.extend(cb.read(b, &m, NOW).wire);
        }
        for m in to_a {
            to_b.extend(ca.read(a, &m, NOW).wire);
        }
    }
    assert!(ca.is_encrypted() && cb.is_encrypted());
    (ca, cb)
}

fn rate(n: u32, d: Duration) -> f64 {
    f64::from(n) / d.as_secs_f64()
}

/// The clock passed to the engine: constant, so that no heartbeat is made (the loop index as
/// seconds made one every 60 messages, which libotr's side never does here).
const NOW: u64 = 1;
/// Enough AKEs and messages that one-time costs (the first key parse, allocations that
/// warm up) do not dominate, as they did at 40 and 2,000.
const N_AKE: u32 = 200;
const N_DATA: u32 = 20_000;

fn main() {
    let (a, b) = (account("alice"), account("bot"));
    let n_ake = N_AKE;
    engine_ake(&a, &b);
    let t = Instant::now();
    for _ in 0..n_ake {
        engine_ake(&a, &b);
    }
    let ours_ake = rate(n_ake, t.elapsed());

    let mut lib = Peer::with_key("alice");
    lib.bench_key(fixture_key_path("bot"));
    lib.bench_ake(2);
    let lib_ake = rate(n_ake, lib.bench_ake(n_ake));

    println!("full AKEs/s:        engine {ours_ake:10.1}   libotr {lib_ake:10.1}   ratio {:.2}x (goal >= 1.5x)", ours_ake / lib_ake);
    // One-way data messages (the sender never hears back, as a bot's lesson text), at the
    // sizes of a chat line, a typical reply and a long one. Both sides are measured in turn,
    // three times, after a warm-up, and the best run of each is compared: the machine's moods
    // (frequency, other work) then fall on both alike.
    for size in [100usize, 256, 2000] {
        let (mut ca, mut cb) = engine_ake(&a, &b);
        let text = "m".repeat(size);
        let mut one_way = |n: u32| {
            let t = Instant::now();
            for _ in 0..n {
                for m in ca.write(&a, &text, NOW).wire {
                    let ev = cb.read(&b, &m, NOW);
                    assert!(ev.events.iter().any(|e| matches!(e, Event::Message { .. })));
                }
            }
            rate(n, t.elapsed())
        };
        one_way(N_DATA / 10);
        lib.bench_data(N_DATA / 10, size);
        let (mut ours_data, mut lib_data) = (0f64, 0f64);
        for _ in 0..3 {
            ours_data = ours_data.max(one_way(N_DATA));
            lib_data = lib_data.max(rate(N_DATA, lib.bench_data(N_DATA, size)));
        }
        println!(
            "data msgs/s ({size:>4} B one-way): engine {ours_data:10.1}   libotr {lib_data:10.1}   ratio {:.2}x (goal >= 1.0x)",
            ours_data / lib_data
        );
    }
}
