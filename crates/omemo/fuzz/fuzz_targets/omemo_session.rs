//! Two devices exchanging messages while the input reorders, drops, replays and alters them
//! and makes either side forget its session. Checked: nothing panics; whatever decrypts is
//! exactly what was sent in that message (no forgery, no mix-up), whatever the alteration.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use omemo::{decrypt, encrypt, Account, Encrypted, Random, Session};

/// A deterministic source (SplitMix64), so that a crash reproduces.
struct Seeded(u64);

impl Random for Seeded {
    fn fill(&mut self, buf: &mut [u8]) -> omemo::Result<()> {
        for b in buf {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            *b = (z ^ (z >> 31)) as u8;
        }
        Ok(())
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// One side writes (an empty message when `text` is empty).
    Send { from_a: bool, text: Vec<u8> },
    /// A message of the pool reaches its recipient (again, if it already did).
    Deliver { index: u8 },
    /// A message of the pool is altered in one byte of its key, IV or payload.
    Alter { index: u8, part: u8, at: u16, xor: u8 },
    /// One side loses its session with the other.
    Forget { a: bool },
}

struct Side {
    account: Account,
    session: Option<Session>,
}

fn accounts() -> &'static (Account, Account) {
    static ACCOUNTS: OnceLock<(Account, Account)> = OnceLock::new();
    ACCOUNTS.get_or_init(|| {
        let rng = &mut Seeded(7);
        (Account::generate(1, 0, rng).unwrap(), Account::generate(2, 0, rng).unwrap())
    })
}

fuzz_target!(|ops: Vec<Op>| {
    let (a, b) = accounts();
    let rng = &mut Seeded(11);
    let mut sides = [
        Side { account: a.clone(), session: None },
        Side { account: b.clone(), session: None },
    ];
    // (recipient index, message, what was sent)
    let mut pool: Vec<(usize, Encrypted, Option<Vec<u8>>)> = Vec::new();
    for op in ops.into_iter().take(48) {
        match op {
            Op::Send { from_a, mut text } => {
                text.truncate(64);
                let (from, to) = if from_a { (0, 1) } else { (1, 0) };
                let peer_bundle = sides[to].account.bundle();
                let peer_id = sides[to].account.device_id();
                let side = &mut sides[from];
                let mut session = match side.session.take() {
                    Some(s) => s,
                    None => side.account.start_session(&peer_bundle, rng).unwrap(),
                };
                let body = (!text.is_empty()).then_some(text.as_slice());
                let m = encrypt(&side.account, &mut [(peer_id, &mut session)], body, rng).unwrap();
                side.session = Some(session);
                pool.push((to, m, body.map(<[u8]>::to_vec)));
            }
            Op::Deliver { index } if !pool.is_empty() => {
                let (to, m, sent) = &pool[index as usize % pool.len()];
                let side = &mut sides[*to];
                if let Ok(got) = decrypt(&mut side.account, side.session.as_ref(), m, rng) {
                    assert_eq!(&got.body, sent, "a message decrypted to something not sent in it");
                    side.session = Some(got.session);
                }
            }
            Op::Alter { index, part, at, xor } if !pool.is_empty() && xor != 0 => {
                let len = pool.len();
                let (_, m, _) = &mut pool[index as usize % len];
                let bytes = match part % 3 {
                    0 => &mut m.keys[0].data,
                    1 => &mut m.iv,
                    _ => match m.payload.as_mut() {
                        Some(p) => p,
                        None => continue,
                    },
                };
                if !bytes.is_empty() {
                    let i = at as usize % bytes.len();
                    bytes[i] ^= xor;
                }
            }
            Op::Forget { a } => sides[usize::from(!a)].session = None,
            _ => {}
        }
    }
});
