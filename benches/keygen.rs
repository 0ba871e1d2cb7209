//! DSA-1024 key generation, the bot's generator against libotr 4.1.1's
//! `otrl_privkey_generate` (libgcrypt, inside the test peer; it also writes its key file),
//! interleaved in the same run, one key at a time on one thread each; then the bot's pool
//! fillers on every core. Goal: per key at least as fast as libotr (ratio ≤ 1.0).
//!
//! `OTRBOT_KEYGEN_KEYS` keys per side (default 40).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};
use support::libotr::Peer;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn summary(name: &str, times: &mut [Duration]) -> f64 {
    times.sort();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    println!(
        "  {name:<22} mean {:7.1} ms  p50 {:7.1}  p90 {:7.1}  p99 {:7.1}  max {:7.1}",
        ms(mean),
        ms(pct(times, 0.5)),
        ms(pct(times, 0.9)),
        ms(pct(times, 0.99)),
        ms(*times.last().unwrap()),
    );
    ms(mean)
}

fn main() {
    let n: usize = std::env::var("OTRBOT_KEYGEN_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let dir = tempfile::tempdir().unwrap();
    let mut peer = Peer::spawn();
    let (mut ours, mut libotr) = (Vec::with_capacity(n), Vec::with_capacity(n));
    // Warm up both (the peer's first key also initialises libgcrypt's pools).
    drop(otrbot::store::default_dsa_key());
    peer.gen_key(dir.path().join("warm.key"));
    for i in 0..n {
        let t = Instant::now();
        let key = otrbot::store::default_dsa_key();
        ours.push(t.elapsed());
        assert!(otrbot::store::decode_dsa_key(&key).is_ok());
        let t = Instant::now();
        peer.gen_key(dir.path().join(format!("k{i}.key")));
        libotr.push(t.elapsed());
    }
    println!("keygen bench: {n} DSA-1024/160 keys per side, interleaved, one thread each");
    let a = summary("otrbot (otr::keygen)", &mut ours);
    let b = summary("libotr 4.1.1", &mut libotr);
    println!(
        "  per key: otrbot/libotr = {:.2} (goal ≤ 1.00: at least as fast as libotr)",
        a / b
    );
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let rate = otrbot::store::keypool::measure_rate(threads, 0, Duration::from_secs(3));
    println!(
        "  pool fillers on {threads} core(s): {rate:.1} keys/s (goal: ≥ 10 new learners/s on 2 cores; \
         libotr one thread: {:.1} keys/s)",
        1000.0 / b
    );
}
