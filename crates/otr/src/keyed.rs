//! A data session's keys as key schedules, made once per key pair and kept while the channel
//! is in memory (never stored).

use zeroize::Zeroize;

use crate::crypto::{aes_key, hmac_sha1_key};

/// AES key schedules and keyed HMACs of one session's keys: a run of messages under the same
/// keys expands the AES key and hashes the HMAC pads once, not per message. Not stored; the
/// AES schedules are wiped when dropped (the aes crate), and MAC keys are revealed by OTR
/// once used anyway.
pub(crate) struct Keyed {
    pub send_aes: aes::Aes128,
    pub recv_aes: aes::Aes128,
    pub send_mac: hmac::Hmac<sha1::Sha1>,
    pub recv_mac: hmac::Hmac<sha1::Sha1>,
}

/// The cache slot: equal whatever it holds (it is derived from the keys), emptied by zeroize.
#[derive(Default)]
pub(crate) struct KeyedCache(Option<Box<Keyed>>);

impl Clone for KeyedCache {
    fn clone(&self) -> Self {
        KeyedCache::default()
    }
}

impl PartialEq for KeyedCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for KeyedCache {}

impl Zeroize for KeyedCache {
    fn zeroize(&mut self) {
        self.0 = None;
    }
}

impl KeyedCache {
    /// The schedules of these keys, made on first use.
    pub(crate) fn get(
        &mut self,
        send_aes: &[u8; 16],
        recv_aes: &[u8; 16],
        send_mac: &[u8; 20],
        recv_mac: &[u8; 20],
    ) -> &Keyed {
        self.0.get_or_insert_with(|| {
            Box::new(Keyed {
                send_aes: aes_key(send_aes),
                recv_aes: aes_key(recv_aes),
                send_mac: hmac_sha1_key(send_mac),
                recv_mac: hmac_sha1_key(recv_mac),
            })
        })
    }
}
