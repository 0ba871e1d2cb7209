//! The pool of pre-generated OTR private keys, and the thread that keeps it full.
//!
//! # Key encoding (the default generator)
//!
//! [`default_dsa_key`] makes a DSA key with L = 1024, N = 160 (what OTR versions 2 and 3 use)
//! and encodes it as five OTR MPIs in this order: `p`, `q`, `g`, `y`, `x`; each MPI is a
//! 4-byte big-endian length followed by the value's big-endian bytes without leading zeros.
//! [`decode_dsa_key`] reverses it. The pool itself treats keys as opaque bytes.

use super::error::{Error, Result};
use super::model::{SecretBytes, Session, StoredSession, Timeouts};
use super::Store;
use crypto_bigint::BoxedUint;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::watch;
use zeroize::{Zeroize, Zeroizing};

/// Makes one fresh private key, encoded by whoever will use it.
pub type KeyGenerator = Arc<dyn Fn() -> Vec<u8> + Send + Sync>;

/// The longest MPI [`decode_dsa_key`] accepts, in bytes.
const MAX_MPI: usize = 1024;

fn put_mpi(out: &mut Vec<u8>, v: &BoxedUint) {
    let mut bytes = v.to_be_bytes();
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let len = (bytes.len() - start) as u32;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&bytes[start..]);
    bytes.zeroize();
}

/// Generates a DSA-1024/160 key with the system RNG ([`crate::otr::keygen`]); encoded as
/// described in the module docs.
pub fn default_dsa_key() -> Vec<u8> {
    let k = crate::otr::keygen::generate(&mut rand::rng());
    let mut out = Vec::with_capacity(5 * 4 + 3 * 128 + 2 * 20);
    for v in [&k.p, &k.q, &k.g, &k.y, &k.x] {
        put_mpi(&mut out, v);
    }
    out
}

/// The five big-endian components `[p, q, g, y, x]` of a key made by [`default_dsa_key`].
pub fn decode_dsa_key(bytes: &[u8]) -> Result<[Zeroizing<Vec<u8>>; 5]> {
    let bad = |reason: &str| Error::Decode {
        tree: super::trees::KEY_POOL,
        reason: format!("DSA key: {reason}"),
    };
    let mut rest = bytes;
    let mut parts: [Zeroizing<Vec<u8>>; 5] = Default::default();
    for part in parts.iter_mut() {
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| bad("truncated"))?;
        let len = u32::from_be_bytes(*len) as usize;
        if len > MAX_MPI || len > tail.len() {
            return Err(bad("bad length"));
        }
        part.extend_from_slice(&tail[..len]);
        rest = &tail[len..];
    }
    if !rest.is_empty() {
        return Err(bad("trailing bytes"));
    }
    Ok(parts)
}

/// How the pool is refilled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refill {
    /// How many keys to keep ready.
    pub target: usize,
    /// Filler threads (each makes one key at a time).
    pub threads: usize,
    /// The fillers' scheduling niceness (0 to 19): learners' turns go first.
    pub nice: i32,
}

impl Refill {
    /// One filler at normal priority (tests).
    pub fn single(target: usize) -> Refill {
        Refill {
            target,
            threads: 1,
            nice: 0,
        }
    }
}

/// The key pool: filler threads keep `target` keys ready, off the async runtime.
pub struct KeyPool {
    store: Store,
    wakes: Vec<mpsc::Sender<()>>,
    added: watch::Receiver<u64>,
    stop: Arc<AtomicBool>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// What the fillers share.
struct Filler {
    store: Store,
    target: usize,
    generate: KeyGenerator,
    added: watch::Sender<u64>,
    stop: Arc<AtomicBool>,
    /// Keys being made right now, so that the fillers together stop at `target`.
    making: AtomicUsize,
}

impl KeyPool {
    /// Starts one filler thread, which makes keys with `generate` until `target` are ready.
    pub fn start(store: Store, target: usize, generate: KeyGenerator) -> std::io::Result<KeyPool> {
        Self::start_with(store, Refill::single(target), generate)
    }

    /// Starts `refill.threads` filler threads at niceness `refill.nice`.
    pub fn start_with(
        store: Store,
        refill: Refill,
        generate: KeyGenerator,
    ) -> std::io::Result<KeyPool> {
        let (added_tx, added) = watch::channel(0u64);
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Filler {
            store: store.clone(),
            target: refill.target,
            generate,
            added: added_tx,
            stop: stop.clone(),
            making: AtomicUsize::new(0),
        });
        let mut wakes = Vec::new();
        let mut threads = Vec::new();
        for i in 0..refill.threads.max(1) {
            let (wake, woken) = mpsc::channel();
            let (f, nice) = (shared.clone(), refill.nice);
            let t = std::thread::Builder::new()
                .name(format!("otrbot-keypool-{i}"))
                .spawn(move || {
                    lower_priority(nice);
                    fill(&f, &woken)
                })?;
            wakes.push(wake);
            threads.push(t);
        }
        Ok(KeyPool {
            store,
            wakes,
            added,
            stop,
            threads: Mutex::new(threads),
        })
    }

    /// How many keys are ready.
    pub fn ready(&self) -> usize {
        self.store.pool_len()
    }

    /// Asks the fillers to top the pool up.
    pub fn wake(&self) {
        for w in &self.wakes {
            let _ = w.send(());
        }
    }

    /// Creates a session with a pooled key (see [`Store::create_session`]); if none is
    /// ready, waits for the filler without blocking the runtime.
    pub async fn create_session(
        &self,
        jid: &str,
        session: &Session,
        t: Timeouts,
    ) -> Result<StoredSession> {
        let mut added = self.added.clone();
        loop {
            added.borrow_and_update();
            let (store, j, s) = (self.store.clone(), jid.to_owned(), session.clone());
            let r = tokio::task::spawn_blocking(move || store.create_session(&j, &s, t))
                .await
                .map_err(|e| Error::Encode(format!("session task failed: {e}")))?;
            self.wake();
            match r {
                Err(Error::PoolEmpty) => {
                    tracing::info!(jid, "key pool empty; waiting for a fresh key");
                    added.changed().await.map_err(|_| Error::FillerStopped)?;
                }
                other => return other,
            }
        }
    }

    /// Stops the fillers and waits for them (at most one key generation each).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake();
        let handles = self
            .threads
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        for h in handles {
            let _ = h.join();
        }
    }
}

impl Drop for KeyPool {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Makes this thread yield to others: niceness `nice` (Linux threads have their own).
fn lower_priority(nice: i32) {
    if nice <= 0 {
        return;
    }
    // SAFETY: gettid and setpriority take plain integers and touch no memory of ours.
    let r = unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice)
    };
    if r != 0 {
        tracing::warn!(nice, error = %std::io::Error::last_os_error(), "key pool: cannot lower the filler's priority");
    }
}

/// One filler thread's loop.
fn fill(f: &Filler, woken: &mpsc::Receiver<()>) {
    while !f.stop.load(Ordering::SeqCst) {
        // Claim one key to make, unless the pool and the keys being made reach the target.
        let making = f.making.fetch_add(1, Ordering::SeqCst);
        if f.store.pool_len() + making >= f.target {
            f.making.fetch_sub(1, Ordering::SeqCst);
            match woken.recv_timeout(Duration::from_secs(30)) {
                Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let key = SecretBytes::new((f.generate)());
        let stored = f.store.pool_add(&key);
        f.making.fetch_sub(1, Ordering::SeqCst);
        match stored {
            Ok(()) => {
                f.added.send_modify(|n| *n += 1);
                let ready = f.store.pool_len();
                if ready == f.target {
                    tracing::info!(ready, "key pool: full");
                } else {
                    tracing::debug!(ready, "key pool: added a key");
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "key pool: cannot store a key");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

/// How many keys per second `threads` fillers make on this machine, measured for about
/// `for_how_long` (check-config's estimate of how many new learners per second it serves).
pub fn measure_rate(threads: usize, nice: i32, for_how_long: Duration) -> f64 {
    let start = std::time::Instant::now();
    let made = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..threads.max(1))
        .map(|_| {
            let made = made.clone();
            std::thread::spawn(move || {
                lower_priority(nice);
                while start.elapsed() < for_how_long {
                    drop(default_dsa_key());
                    made.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    made.load(Ordering::SeqCst) as f64 / start.elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
    use dsa::{Components, VerifyingKey};

    #[test]
    fn default_key_is_a_valid_dsa_1024_key() {
        let bytes = default_dsa_key();
        let [p, q, g, y, x] = decode_dsa_key(&bytes).unwrap();
        assert_eq!(p.len(), 128);
        assert_eq!(q.len(), 20);
        let num = |b: &[u8], bits| BoxedUint::from_be_slice(b, bits).unwrap();
        let comps = Components::from_components(num(&p, 1024), num(&q, 192), num(&g, 1024))
            .expect("p, q, g are DSA-1024 components");
        // y^q = 1 mod p is checked here.
        let _vk = VerifyingKey::from_components(comps.clone(), num(&y, 1024))
            .expect("y is in the subgroup");
        let xv = num(&x, 192);
        assert!(xv < **comps.q() && !bool::from(xv.is_zero()));
        let params = BoxedMontyParams::new_vartime(comps.p().clone());
        let gx = BoxedMontyForm::new((**comps.g()).clone(), &params)
            .pow(&xv)
            .retrieve();
        assert_eq!(gx, num(&y, 1024));
        assert!(decode_dsa_key(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode_dsa_key(&[bytes.as_slice(), &[0]].concat()).is_err());
    }
}
