//! Full AKEs per second and data-message throughput: the project's engine (Rust to Rust)
//! against libotr 4.1.1 (two userstates inside the test peer), in the same run.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use otrbot::otr::{import_libotr, Account, Channel, Event, Output, Policy};
use support::keys::{fixture_key_path, fixture_key_sexp};
use support::libotr::Peer;

fn account(name: &str) -> Account {
    let key = import_libotr(fixture_key_sexp(name).as_bytes())
        .expect("fixture key")
        .remove(0)
        .key;
    let mut a = Account::new(&format!("{name}@test"), key).expect("instance tag");
    a.policy = Policy::MANUAL;
    a
}

fn injects(out: Output) -> Vec<String> {
    out.wire
}

/// One full AKE between fresh channels (query, DH-Commit, DH-Key, Reveal Signature, Signature).
fn engine_ake(a: &Account, b: &Account) -> (Channel, Channel) {
    let (mut ca, mut cb) = (Channel::new(), Channel::new());
    let mut to_b = injects(ca.init(a));
    while !to_b.is_empty() {
        let mut to_a = Vec::new();
        for m in to_b.drain(..) {
            to_a.extend(injects(cb.read(b, &m, 1)));
        }
        for m in to_a {
            to_b.extend(injects(ca.read(a, &m, 1)));
        }
    }
    assert!(ca.is_encrypted() && cb.is_encrypted());
    (ca, cb)
}

fn rate(n: u32, d: Duration) -> f64 {
    f64::from(n) / d.as_secs_f64()
}

fn main() {
    let (a, b) = (account("alice"), account("bot"));
    let n_ake = 40;
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
    // sizes of a chat line, a typical reply and a long one.
    for size in [100usize, 256, 2000] {
        let n_data = 2000u32;
        let (mut ca, mut cb) = engine_ake(&a, &b);
        let text = "m".repeat(size);
        let t = Instant::now();
        for i in 0..n_data {
            for m in injects(ca.write(&a, &text, u64::from(i))) {
                let ev = cb.read(&b, &m, u64::from(i));
                assert!(ev.events.iter().any(|e| matches!(e, Event::Message { .. })));
            }
        }
        let ours_data = rate(n_data, t.elapsed());

        let lib_data = rate(n_data, lib.bench_data(n_data, size));
        println!(
            "data msgs/s ({size:>4} B one-way): engine {ours_data:10.1}   libotr {lib_data:10.1}   ratio {:.2}x (goal >= 1.0x)",
            ours_data / lib_data
        );
    }
}
