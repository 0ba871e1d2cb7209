//! Benchmark (not a timed test): full SMP runs per second of otr::smp, side by side with
//! libotr 4.1.1 (the test peer's in-process `bench smp`), and the group primitives.
//!
//! Run with `cargo bench --bench smp` (optionally `-- N` runs, default 20).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use otrbot::otr::group::{self, Exponent};
use otrbot::otr::smp::{secret, SmpEvent, SmpState};
use support::keys::fixture_key_path;
use support::libotr::Peer;

/// One full SMP exchange with the right secret; panics unless both sides succeed.
fn smp_run(x: &Exponent, y: &Exponent) {
    let (mut alice, mut bob) = (SmpState::new(), SmpState::new());
    let m1 = alice.start(x.clone(), None).expect("start").send;
    assert_eq!(bob.on_tlv(&m1[0]).event, Some(SmpEvent::AskForSecret));
    let m2 = bob.respond(y.clone()).expect("respond").send;
    let m3 = alice.on_tlv(&m2[0]).send;
    let s4 = bob.on_tlv(&m3[0]);
    assert_eq!(s4.event, Some(SmpEvent::Success));
    assert_eq!(alice.on_tlv(&s4.send[0]).event, Some(SmpEvent::Success));
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

    let x = secret(&[1; 20], &[2; 20], &[3; 8], b"benchmark secret");
    let y = x.clone();
    smp_run(&x, &y);
    let t = Instant::now();
    for _ in 0..n {
        smp_run(&x, &y);
    }
    let ours = t.elapsed();
    let ours_rate = f64::from(n) / ours.as_secs_f64();
    println!(
        "otr::smp: {n} full SMP runs in {ours:.2?}: {ours_rate:.1} runs/s ({:.1?} per run)",
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
        "ratio otr::smp / libotr: {:.2}x (goal: at least 2x)",
        ours_rate / theirs_rate
    );
}
