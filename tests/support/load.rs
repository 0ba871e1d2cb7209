//! What the load benchmark (benches/lesson_load.rs) needs around the bot: many accounts written
//! straight into the test Prosody's storage (instead of one `prosodyctl register` each), a cache
//! of keys made by the bot's own generator, and the bot's settings for a load run.

use super::prosody;
use hmac::{Hmac, KeyInit, Mac};
use otrbot::store::{default_dsa_key, SecretBytes, Store};
use sha1::{Digest, Sha1};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// SCRAM-SHA-1 iterations of the written accounts (RFC 5802's minimum; clients log in faster).
pub const ITERATIONS: u32 = 4096;
/// The salt of every written account (a test server: one salt, one password).
const SALT: &str = "otrbot-load-salt";

fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> [u8; 20] {
    let mut m = <Hmac<Sha1> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// PBKDF2-HMAC-SHA1 with one output block (20 bytes), as SCRAM-SHA-1 salts a password.
fn pbkdf2_sha1(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 20] {
    let mut u = hmac_sha1(password, &[salt, &1u32.to_be_bytes()]);
    let mut out = u;
    for _ in 1..iterations {
        u = hmac_sha1(password, &[&u]);
        out.iter_mut().zip(u).for_each(|(o, x)| *o ^= x);
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Prosody's internal_hashed account record for `password` (stored_key, server_key in hex).
pub fn account_record(password: &str) -> String {
    let salted = pbkdf2_sha1(password.as_bytes(), SALT.as_bytes(), ITERATIONS);
    let client_key = hmac_sha1(&salted, &[b"Client Key"]);
    let stored_key = Sha1::digest(client_key);
    let server_key = hmac_sha1(&salted, &[b"Server Key"]);
    format!(
        "return {{\n\t[\"iteration_count\"] = {ITERATIONS};\n\t[\"salt\"] = {SALT:?};\n\
         \t[\"stored_key\"] = {:?};\n\t[\"server_key\"] = {:?};\n}};\n",
        hex(&stored_key),
        hex(&server_key)
    )
}

/// The directory of the test server's `localhost` storage.
fn host_dir() -> PathBuf {
    prosody::dir().join("data/localhost")
}

/// Writes `user@localhost` accounts (all with `password`) into the test Prosody's internal
/// storage; Prosody reads account files on every login, so this works while it runs.
/// Names must be ASCII letters and digits (stored unescaped).
pub fn write_accounts(users: &[String], password: &str) -> std::io::Result<()> {
    let dir = host_dir().join("accounts");
    std::fs::create_dir_all(&dir)?;
    let record = account_record(password);
    for u in users {
        assert!(
            !u.is_empty() && u.bytes().all(|b| b.is_ascii_alphanumeric()),
            "account name {u:?} is not letters and digits"
        );
        let tmp = dir.join(format!(".{u}.tmp"));
        std::fs::File::create(&tmp)?.write_all(record.as_bytes())?;
        std::fs::rename(&tmp, dir.join(format!("{u}.dat")))?;
    }
    Ok(())
}

/// Removes everything the test Prosody stored for these users (account, roster, ...).
pub fn remove_accounts(users: &[String]) {
    let Ok(kinds) = std::fs::read_dir(host_dir()) else {
        return;
    };
    let kinds: Vec<PathBuf> = kinds.flatten().map(|e| e.path()).collect();
    for u in users {
        for k in &kinds {
            for ext in ["dat", "list"] {
                let _ = std::fs::remove_file(k.join(format!("{u}.{ext}")));
            }
        }
    }
}

/// The key cache: keys from the bot's own generator, kept across benchmark runs.
fn key_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("lesson_load-keys.bin")
}

fn read_keys(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap_or_default();
    let mut keys = Vec::new();
    let mut rest = bytes.as_slice();
    while let Some((len, tail)) = rest.split_first_chunk::<4>() {
        let len = u32::from_be_bytes(*len) as usize;
        if len > tail.len() {
            break;
        }
        keys.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    keys
}

fn append_keys(path: &Path, keys: &[Vec<u8>]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    for k in keys {
        f.write_all(&(k.len() as u32).to_be_bytes())?;
        f.write_all(k)?;
    }
    Ok(())
}

/// Keys for a run: `timed` are made now on one thread (their mean time is returned: what the
/// bot's single filler thread needs per key), the rest come from the cache, which is topped
/// up on all cores when it holds fewer than `n`.
pub fn keys(n: usize, timed: usize) -> (Vec<Vec<u8>>, Duration) {
    let path = key_cache();
    let t = Instant::now();
    let fresh: Vec<Vec<u8>> = (0..timed).map(|_| default_dsa_key()).collect();
    let per_key = t.elapsed() / timed.max(1) as u32;
    let mut cached = read_keys(&path);
    if cached.len() + fresh.len() < n {
        append_keys(&path, &fresh).expect("write the key cache");
        let missing = n - cached.len() - fresh.len();
        eprintln!(
            "lesson_load: making {missing} keys for the cache {}",
            path.display()
        );
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let made: Vec<Vec<u8>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|i| {
                    let share = missing / threads + usize::from(i < missing % threads);
                    s.spawn(move || (0..share).map(|_| default_dsa_key()).collect::<Vec<_>>())
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("key thread"))
                .collect()
        });
        append_keys(&path, &made).expect("write the key cache");
        cached.extend(made);
    }
    let mut all = fresh;
    all.extend(cached);
    all.truncate(n);
    (all, per_key)
}

/// Puts `keys` into the key pool of the store in `data` (created 0700, then closed).
pub fn prefill_pool(data: &Path, keys: &[Vec<u8>]) {
    otrbot::bot::ensure_private_dir(data).expect("data dir");
    let store = Store::open(data).expect("open the bot's store");
    for k in keys {
        store
            .pool_add(&SecretBytes::new(k.clone()))
            .expect("add a key");
    }
    store.flush().expect("flush the store");
}

/// The test settings for a load run as `jid`: the timeouts of production (no warnings or
/// expiries during the run), typing off, the key pool target `pool`, every learner whitelisted.
pub fn bot_settings(jid: &str, pw: &str, data: &Path, learners: &[String], pool: usize) -> String {
    let mut text = prosody::settings_text(jid, pw, data);
    for (from, to) in [
        ("warning_timeout = 4", "warning_timeout = 1500".to_owned()),
        ("session_timeout = 8", "session_timeout = 1800".to_owned()),
        (
            "timeout_check_interval = 1",
            "timeout_check_interval = 60".to_owned(),
        ),
        ("key_pool_size = 2", format!("key_pool_size = {pool}")),
        ("scheduled_say = false", "scheduled_say = false".to_owned()),
    ] {
        assert!(text.contains(from), "settings/test.toml has no `{from}`");
        text = text.replace(from, &to);
    }
    text.push_str("\n[whitelist]\n");
    for l in learners {
        text.push_str(&format!("{l:?} = \"en_GB\"\n"));
    }
    text
}
