//! Store benchmarks (not timed tests): the deadline scan with 100,000 sessions of which 10 are
//! due (goal under 5 ms; anchor: a full scan of the sessions tree, 90–260 ms on the reference
//! machine), and open-to-ready with 10,000 sessions (goal under 2 s).
//!
//! The "cold" figures are cold: before each open, the store's files are synced and dropped from
//! the page cache (`posix_fadvise(DONTNEED)`), so the open reads from the disk as after a
//! reboot, not from the pages the population just wrote.

use otrbot::store::{Options, SecretBytes, Session, Store, Timeouts};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

const T: Timeouts = Timeouts {
    warning: 1500,
    session: 1800,
};
const NOW: u64 = 1_700_000_000;

/// Drops the files under `dir` from the page cache (synced first: only clean pages can go).
fn evict_from_page_cache(dir: &Path) {
    use std::os::fd::AsRawFd;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let path = e.path();
        if path.is_dir() {
            evict_from_page_cache(&path);
            continue;
        }
        let f = std::fs::File::open(&path).unwrap();
        f.sync_all().unwrap();
        // SAFETY: a valid open file descriptor; the advice only affects the page cache.
        let r = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        assert_eq!(r, 0, "posix_fadvise on {}", path.display());
    }
}

/// Fills a store with `n` sessions, `due` of them past their expiry at `NOW`.
fn populate(dir: &Path, n: usize, due: usize) {
    let s = Store::open_with(
        dir,
        Options {
            flush_every_write: false,
        },
    )
    .unwrap();
    let key = SecretBytes::new(vec![7u8; 450]);
    for i in 0..n {
        s.pool_add(&key).unwrap();
        let last = if i < due {
            NOW - 1801
        } else {
            NOW - (i % 1000) as u64
        };
        let mut sess = Session::new("awaiting_otr", "en_GB", last);
        sess.lesson_state = vec![1; 64];
        s.create_session(&format!("learner{i:06}@example.org"), &sess, T)
            .unwrap();
        s.save_channel_state(&format!("learner{i:06}@example.org"), &[3; 300])
            .ok();
    }
    s.flush().unwrap();
}

fn stats(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    // Scan.
    let d = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    populate_fast(d.path(), 100_000, 10);
    println!(
        "populated 100,000 sessions in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    evict_from_page_cache(d.path());
    let s = Store::open(d.path()).unwrap();
    let mut runs = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let due = s.due(NOW).unwrap();
        runs.push(t.elapsed());
        assert_eq!(due.len(), 10);
    }
    let first = runs[0];
    let (min, med, max) = stats(runs);
    println!("first scan after open (cold): {:.3} ms", ms(first));
    let t = Instant::now();
    let all = s.sessions().unwrap();
    let full = t.elapsed();
    assert_eq!(all.len(), 100_000);
    println!(
        "scan, 100,000 sessions, 10 due: median {:.3} ms (min {:.3}, max {:.3}); goal < 5 ms: {}",
        ms(med),
        ms(min),
        ms(max),
        if med < Duration::from_millis(5) {
            "met"
        } else {
            "MISSED"
        }
    );
    println!(
        "anchor, full scan + decode of the sessions tree: {:.1} ms; the index scan is {:.0}x faster",
        ms(full),
        full.as_secs_f64() / med.as_secs_f64()
    );
    drop(all);
    drop(s);

    // Open to ready.
    let d = tempfile::tempdir().unwrap();
    populate(d.path(), 10_000, 10);
    let mut wl = BTreeMap::new();
    wl.insert("teacher@example.org".to_string(), "en_GB".to_string());
    let mut runs = Vec::new();
    for _ in 0..5 {
        evict_from_page_cache(d.path());
        let t = Instant::now();
        let s = Store::open(d.path()).unwrap();
        s.seed_whitelist(&wl, NOW).unwrap();
        let due = s.due(NOW).unwrap();
        let n = s.session_count();
        runs.push(t.elapsed());
        assert_eq!((due.len(), n), (10, 10_000));
        drop(s);
    }
    let (min, med, max) = stats(runs);
    println!(
        "open to ready (cold), 10,000 sessions: median {:.1} ms (min {:.1}, max {:.1}); goal < 2000 ms: {}",
        ms(med),
        ms(min),
        ms(max),
        if med < Duration::from_secs(2) { "met" } else { "MISSED" }
    );
}

/// Like [`populate`], without channel states (they do not touch the index).
fn populate_fast(dir: &Path, n: usize, due: usize) {
    let s = Store::open_with(
        dir,
        Options {
            flush_every_write: false,
        },
    )
    .unwrap();
    let key = SecretBytes::new(vec![7u8; 450]);
    for i in 0..n {
        s.pool_add(&key).unwrap();
        let last = if i < due {
            NOW - 1801
        } else {
            NOW - (i % 1000) as u64
        };
        s.create_session(
            &format!("learner{i:06}@example.org"),
            &Session::new("awaiting_otr", "en_GB", last),
            T,
        )
        .unwrap();
    }
    s.flush().unwrap();
}
