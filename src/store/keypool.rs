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
use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, NonZero, RandomMod};
use std::sync::atomic::{AtomicBool, Ordering};
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

/// Generates a DSA-1024/160 key with the system RNG; encoded as described in the module docs.
pub fn default_dsa_key() -> Vec<u8> {
    let mut rng = rand::rng();
    #[allow(deprecated)] // DSA-1024 is what OTR v2/v3 specify.
    let size = dsa::KeySize::DSA_1024_160;
    let Ok(c) = dsa::Components::try_generate_from_rng_with_key_size(&mut rng, size);
    let q: &NonZero<BoxedUint> = c.q();
    let mut x = loop {
        let Ok(x) = BoxedUint::try_random_mod_vartime(&mut rng, q);
        if !bool::from(x.is_zero()) {
            break x;
        }
    };
    let params = BoxedMontyParams::new_vartime(c.p().clone());
    let y = BoxedMontyForm::new((**c.g()).clone(), &params)
        .pow(&x)
        .retrieve();
    let mut out = Vec::with_capacity(5 * 4 + 3 * 128 + 2 * 20);
    for v in [&**c.p(), &**c.q(), &**c.g(), &y] {
        put_mpi(&mut out, v);
    }
    put_mpi(&mut out, &x);
    x.zeroize();
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

/// The key pool: a filler thread keeps `target` keys ready, off the async runtime.
pub struct KeyPool {
    store: Store,
    wake: mpsc::Sender<()>,
    added: watch::Receiver<u64>,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl KeyPool {
    /// Starts the filler thread, which makes keys with `generate` until `target` are ready.
    pub fn start(store: Store, target: usize, generate: KeyGenerator) -> std::io::Result<KeyPool> {
        let (wake, woken) = mpsc::channel();
        let (added_tx, added) = watch::channel(0u64);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (store, stop) = (store.clone(), stop.clone());
            std::thread::Builder::new()
                .name("otrbot-keypool".into())
                .spawn(move || fill(store, target, generate, woken, added_tx, stop))?
        };
        Ok(KeyPool {
            store,
            wake,
            added,
            stop,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// How many keys are ready.
    pub fn ready(&self) -> usize {
        self.store.pool_len()
    }

    /// Asks the filler to top the pool up.
    pub fn wake(&self) {
        let _ = self.wake.send(());
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

    /// Stops the filler and waits for it (at most one key generation).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.wake.send(());
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

impl Drop for KeyPool {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The filler thread's loop.
fn fill(
    store: Store,
    target: usize,
    generate: KeyGenerator,
    woken: mpsc::Receiver<()>,
    added: watch::Sender<u64>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::SeqCst) {
        if store.pool_len() >= target {
            match woken.recv_timeout(Duration::from_secs(30)) {
                Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let key = SecretBytes::new(generate());
        match store.pool_add(&key) {
            Ok(()) => {
                added.send_modify(|n| *n += 1);
                let ready = store.pool_len();
                if ready == target {
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

#[cfg(test)]
mod tests {
    use super::*;
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
