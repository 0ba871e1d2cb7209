//! LTI launch: parameter parsing (query, form body, OAuth header), the OAuth 1.0a signature
//! base string, and the launch check, with arbitrary requests.
//!
//! The input is a flags byte, then the request path, the query, the `Authorization` header
//! and the form body, separated by new lines (the body is the rest). With flag bit 0 the
//! harness signs the request itself with the configured consumer's secret (bits 1 to 3
//! shift the timestamp), so that the checks after the signature are reached too.
//!
//! Checked: no panic; a launch is only accepted with the right signature, a fresh nonce and
//! a timestamp in the window; encoded values decode back; base URIs are well-formed.
#![no_main]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use otrbot::lti::launch::{self, LaunchError, Verifier};
use otrbot::lti::oauth;
use otrbot::store::{Options, Store};

const KEY: &str = "fuzz-key";
const SECRET: &str = "fuzz-secret-123";
const PUBLIC_URL: &str = "https://Otr.Example.org:443/lti";
const WINDOW: u64 = 300;

struct World {
    store: Store,
    consumers: BTreeMap<String, String>,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = Store::open_with(
            dir.path(),
            Options {
                flush_every_write: false,
            },
        )
        .expect("store");
        World {
            store,
            consumers: BTreeMap::from([(KEY.to_owned(), SECRET.to_owned())]),
            _dir: dir,
        }
    })
}

/// Each input is a new second, so nonces expire and the store stays small.
static CLOCK: AtomicU64 = AtomicU64::new(1_700_000_000);

fn first<'p>(params: &'p [(String, String)], name: &str) -> Option<&'p str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn set(params: &mut Vec<(String, String)>, name: &str, value: &str) {
    params.retain(|(n, _)| n != name);
    params.push((name.to_owned(), value.to_owned()));
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut parts = text.splitn(4, '\n');
    let path = parts.next().unwrap_or("");
    let query = parts.next().filter(|q| !q.is_empty());
    let header = parts.next().filter(|h| !h.is_empty());
    let body = parts.next();

    // Encoding: every value survives encode then form decoding.
    for v in [path, query.unwrap_or(""), header.unwrap_or("")] {
        let enc = oauth::encode(v);
        assert!(enc
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
        let back = oauth::parse_form(&format!("n={enc}"));
        assert_eq!(back, vec![("n".to_owned(), v.to_owned())]);
    }
    if let Ok(uri) = oauth::base_uri(path) {
        assert!(
            uri.starts_with("http://") || uri.starts_with("https://"),
            "{uri}"
        );
        assert!(!uri.contains(['?', '#']), "{uri}");
        assert!(oauth::base_uri(&uri).is_ok(), "{uri}");
    }
    if let Some(h) = header {
        let _ = oauth::parse_authorization(h);
    }

    let Some(mut params) = launch::launch_params(query, body, header) else {
        return;
    };
    assert!(params.len() <= launch::MAX_PARAMS);
    let now = CLOCK.fetch_add(1, Ordering::Relaxed);
    if now % 1024 == 0 {
        w.store.prune_nonces(now).expect("prune nonces");
    }
    let url = launch::public_request_url(PUBLIC_URL, path);
    let uri = oauth::base_uri(&url);
    if flags & 1 == 1 {
        let skew = [0, 1, WINDOW, WINDOW + 1, 3600][usize::from(flags >> 1 & 7) % 5];
        let ts = if flags & 0x10 == 0 {
            now + skew
        } else {
            now.saturating_sub(skew)
        };
        set(&mut params, "oauth_consumer_key", KEY);
        set(&mut params, "oauth_signature_method", "HMAC-SHA1");
        set(&mut params, "oauth_timestamp", &ts.to_string());
        if first(&params, "oauth_nonce").is_none_or(|n| n.trim().is_empty()) {
            set(&mut params, "oauth_nonce", &format!("n{now}"));
        }
        if let Ok(uri) = &uri {
            let base = oauth::base_string("POST", uri, &params);
            set(&mut params, "oauth_signature", &oauth::sign(&base, SECRET));
        }
    }
    let v = Verifier {
        consumers: &w.consumers,
        public_url: PUBLIC_URL,
        window: WINDOW,
        store: &w.store,
    };
    let result = v.check(path, &params, now);
    if let Ok(l) = &result {
        // Accepted: the first signature is the right one, the timestamp is in the window.
        let uri = uri.as_ref().expect("accepted with a bad URL");
        let base = oauth::base_string("POST", uri, &params);
        let given = first(&params, "oauth_signature").map(str::trim);
        assert_eq!(given, Some(oauth::sign(&base, SECRET).as_str()));
        let ts: u64 = first(&params, "oauth_timestamp")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(ts.abs_diff(now) <= WINDOW);
        assert_eq!(l.binding.consumer_key, KEY);
        // The same request again is a replay.
        assert_eq!(v.check(path, &params, now), Err(LaunchError::Replayed));
    }
    if flags & 1 == 1 && uri.is_ok() {
        assert_ne!(
            result,
            Err(LaunchError::BadSignature),
            "our own signature refused"
        );
    }
    let _ = launch::lti_params(KEY, &params);
});
