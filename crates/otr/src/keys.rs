//! Long-term DSA keys: OTR public-key encoding, fingerprints, AKE signatures.

use core::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha1::{Digest, Sha1};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::dsa_ops::{DsaPublic, DsaSecret};
use super::error::{OtrError, Result};
use super::wire::{self, Reader};

/// Largest DSA prime p we accept from the network (bytes).
const MAX_P_BYTES: usize = 384;
/// Largest DSA subgroup order q we accept (bytes).
const MAX_Q_BYTES: usize = 32;

/// An OTR fingerprint: SHA-1 of the public key encoding without its type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Fingerprint(pub [u8; 20]);

impl Fingerprint {
    /// Lower-case hex without spaces (as in the peer harness and libotr's file).
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Display for Fingerprint {
    /// libotr's human-readable form: five groups of eight upper-case hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, chunk) in self.0.chunks(4).enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            for b in chunk {
                write!(f, "{b:02X}")?;
            }
        }
        Ok(())
    }
}

fn strip(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// A peer's DSA public key as received in the AKE.
#[derive(Clone)]
pub struct PublicKey {
    dsa: DsaPublic,
    encoded: Vec<u8>,
    /// p, q, g, y as minimal big-endian bytes.
    parts: [Vec<u8>; 4],
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.fingerprint())
    }
}

impl PublicKey {
    /// Builds a public key from p, q, g, y (big-endian magnitudes), checking them.
    pub fn from_components(p: &[u8], q: &[u8], g: &[u8], y: &[u8]) -> Result<PublicKey> {
        PublicKey::build(p, q, g, y, DsaPublic::new)
    }

    /// Sizes checked, then `dsa` makes the DSA key (with or without the order check).
    fn build(p: &[u8], q: &[u8], g: &[u8], y: &[u8], dsa: MakeDsa) -> Result<PublicKey> {
        let (p, q, g, y) = (strip(p), strip(q), strip(g), strip(y));
        if p.len() > MAX_P_BYTES
            || q.len() > MAX_Q_BYTES
            || q.len() < 20
            || g.len() > p.len()
            || y.len() > p.len()
        {
            return Err(OtrError::Key("size"));
        }
        let dsa = dsa(p, q, g, y)?;
        let mut encoded = Vec::with_capacity(4 * 4 + 2 * p.len() + 2 * q.len() + 2);
        wire::put_short(&mut encoded, 0);
        for v in [p, q, g, y] {
            wire::put_mpi(&mut encoded, v);
        }
        Ok(PublicKey {
            dsa,
            encoded,
            parts: [p.to_vec(), q.to_vec(), g.to_vec(), y.to_vec()],
        })
    }

    /// Reads an OTR PUBKEY (type 0x0000, then MPIs p, q, g, y).
    pub fn read(r: &mut Reader<'_>) -> Result<PublicKey> {
        if r.short()? != 0 {
            return Err(OtrError::Key("not a DSA key"));
        }
        let (p, q, g, y) = (r.mpi()?, r.mpi()?, r.mpi()?, r.mpi()?);
        PublicKey::from_components(p, q, g, y)
    }

    /// The OTR PUBKEY encoding.
    pub fn encoded(&self) -> &[u8] {
        &self.encoded
    }

    /// The fingerprint (SHA-1 of the encoding after the 2-byte type).
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint(Sha1::digest(&self.encoded[2..]).into())
    }

    /// Verifies an OTR signature r||s over a 32-byte MAC (reduced mod q).
    pub fn verify(&self, mac: &[u8; 32], sig: &[u8]) -> Result<()> {
        let h = self.dsa.q_len();
        if sig.len() != 2 * h {
            return Err(OtrError::Signature);
        }
        let (r, s) = sig.split_at(h);
        if self.dsa.verify(&self.dsa.reduce(mac), r, s) {
            Ok(())
        } else {
            Err(OtrError::Signature)
        }
    }
}

/// A long-term DSA private key (the secret is zeroized on drop).
#[derive(Clone)]
pub struct PrivateKey {
    x: DsaSecret,
    public: PublicKey,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({})", self.fingerprint())
    }
}

/// Makes the DSA key from p, q, g, y: with the order check, or without for a stored key.
type MakeDsa = fn(&[u8], &[u8], &[u8], &[u8]) -> Result<DsaPublic>;

/// The numbers of a DSA private key, big-endian (for storage; zeroized on drop).
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct KeyComponents {
    /// Prime p.
    pub p: Vec<u8>,
    /// Subgroup order q.
    pub q: Vec<u8>,
    /// Generator g.
    pub g: Vec<u8>,
    /// Public value y.
    pub y: Vec<u8>,
    /// Secret x.
    pub x: Vec<u8>,
}

impl PrivateKey {
    /// Generates a fresh DSA-1024/160 key ([`crate::keygen`], tens of milliseconds).
    pub fn generate() -> Result<PrivateKey> {
        let k = crate::keygen::generate(&mut rand::rng());
        let bytes = |v: &crypto_bigint::BoxedUint| Zeroizing::new(v.to_be_bytes().to_vec());
        PrivateKey::from_components(
            &bytes(&k.p),
            &bytes(&k.q),
            &bytes(&k.g),
            &bytes(&k.y),
            &bytes(&k.x),
        )
    }

    /// Builds a key from p, q, g, y, x (big-endian), checking that they belong together.
    pub fn from_components(p: &[u8], q: &[u8], g: &[u8], y: &[u8], x: &[u8]) -> Result<PrivateKey> {
        let public = PublicKey::from_components(p, q, g, y)?;
        let x = DsaSecret::new(&public.dsa, strip(x))?;
        if !public.dsa.is_secret(&x) {
            return Err(OtrError::Key("x does not match y"));
        }
        Ok(PrivateKey { x, public })
    }

    /// The numbers of the key, for storage.
    pub fn components(&self) -> KeyComponents {
        let [p, q, g, y] = self.public.parts.clone();
        KeyComponents {
            p,
            q,
            g,
            y,
            x: self.x.to_be_bytes().to_vec(),
        }
    }

    /// The public half.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The fingerprint of the public half.
    pub fn fingerprint(&self) -> Fingerprint {
        self.public.fingerprint()
    }

    /// Signs a 32-byte MAC reduced mod q; returns r||s, each as long as q (20 bytes for DSA-1024).
    pub fn sign(&self, mac: &[u8; 32]) -> Result<Vec<u8>> {
        let dsa = &self.public.dsa;
        let (r, s) = dsa.sign(&self.x, &dsa.reduce(mac))?;
        Ok([r, s].concat())
    }
}

impl Serialize for PrivateKey {
    fn serialize<S: Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        self.components().serialize(s)
    }
}

/// Reads what [`Serialize`] wrote: a key this crate checked when it was made or imported
/// ([`PrivateKey::from_components`]). Sizes and ranges are checked again; the two powers that
/// check the group (y of order q, g^x = y) are not, since a stored state is read on every
/// turn of a conversation (they were ~7% of the bot's CPU under load).
impl<'de> Deserialize<'de> for PrivateKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        let c = KeyComponents::deserialize(d)?;
        let public = PublicKey::build(&c.p, &c.q, &c.g, &c.y, DsaPublic::new_stored)
            .map_err(serde::de::Error::custom)?;
        let x = DsaSecret::new(&public.dsa, strip(&c.x)).map_err(serde::de::Error::custom)?;
        Ok(PrivateKey { x, public })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use num_bigint::BigUint;

    pub(crate) fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const ALICE: &str = "000000000080c81c2cb2eb729b7e6fd48e975a932c638b3a9055478583afa46755683e30102447f6da2d8bec9f386bbb
5da6403b0040fee8650b6ab2d7f32c55ab017ae9b6aec8c324ab5844784e9a80e194830d548fb7f09a0410df2c4d5c8b
c2b3e9ad484e65412be689cf0834694e0839fb2954021521ffdffb8f5c32c14dbf2020b3ce7500000014da4591d58def
96de61aea7b04a8405fe1609308d000000808ddd5cb0b9d66956e3dea5a915d9aba9d8a6e7053b74dadb2fc52f9fe4e5
bcc487d2305485ed95fed026ad93f06ebb8c9e8baf693b7887132c7ffdd3b0f72f4002ff4ed56583ca7c54458f8c068c
a3e8a4dfa309d1dd5d34e2a4b68e6f4338835e5e0fb4317c9e4c7e4806dafda3ef459cd563775a586dd91b1319f72621
bf3f00000080b8147e74d8c45e6318c37731b8b33b984a795b3653c2cd1d65cc99efe097cb7eb2fa49569bab5aab6e8a
1c261a27d0f7840a5e80b317e6683042b59b6dceca2879c6ffc877a465be690c15e4a42f9a7588e79b10faac11b1ce37
41fcef7aba8ce05327a2c16d279ee1b3d77eb783fb10e3356caa25635331e26dd42b8396c4d00000001420bec691fea3
7ecea58a5c717142f0b804452f57";
    const BOB: &str = "000000000080a5138eb3d3eb9c1d85716faecadb718f87d31aaed1157671d7fee7e488f95e8e0ba60ad449ec732710a7
dec5190f7182af2e2f98312d98497221dff160fd68033dd4f3a33b7c078d0d9f66e26847e76ca7447d4bab3548604509
0572863d9e4454777f24d6706f63e02548dfec2d0a620af37bbc1d24f884708a212c343b480d00000014e9c58f0ea21a
5e4dfd9f44b6a9f7f6a9961a8fa9000000803c4d111aebd62d3c50c2889d420a32cdf1e98b70affcc1fcf44d59cca2eb
019f6b774ef88153fb9b9615441a5fe25ea2d11b74ce922ca0232bd81b3c0fcac2a95b20cb6e6c0c5c1ace2e26f65dc4
3c751af0edbb10d669890e8ab6beea91410b8b2187af1a8347627a06ecea7e0f772c28aae9461301e83884860c9b656c
722f0000008065af8625a555ea0e008cd04743671a3cda21162e83af045725db2eb2bb52712708dc0cc1a84c08b3649b
88a966974bde27d8612c2861792ec9f08786a246fcadd6d8d3a81a32287745f309238f47618c2bd7612cb8b02d940571
e0f30b96420bcd462ff542901b46109b1e5ad6423744448d20a57818a8cbb1647d0fea3b664e0000001440f9f2eb554c
b00d45a5826b54bfa419b6980e48";

    #[test]
    fn known_public_keys_and_fingerprints() {
        for (enc, fp) in [
            (ALICE, "0bb01c360424522e94ee9c346ce877a1a4288b2f"),
            (BOB, "8798faa7735267fb8457733098482e94096d4abd"),
        ] {
            let bytes = hex(enc);
            let mut r = Reader::new(&bytes);
            let key = PublicKey::read(&mut r).unwrap();
            // The vectors carry the private x after the public key (golang's serialisation).
            let at = r.position();
            let x = r.mpi().unwrap();
            r.finish().unwrap();
            assert_eq!(key.encoded(), &bytes[..at]);
            assert_eq!(key.fingerprint().to_hex(), fp);
            let c = |i: usize| {
                let mut r = Reader::new(&bytes[2..]);
                for _ in 0..i {
                    r.mpi().unwrap();
                }
                r.mpi().unwrap().to_vec()
            };
            let private = PrivateKey::from_components(&c(0), &c(1), &c(2), &c(3), x).unwrap();
            assert_eq!(private.fingerprint().to_hex(), fp);
        }
        let fp = Fingerprint(
            hex("0bb01c360424522e94ee9c346ce877a1a4288b2f")
                .try_into()
                .unwrap(),
        );
        assert_eq!(
            fp.to_string(),
            "0BB01C36 0424522E 94EE9C34 6CE877A1 A4288B2F"
        );
    }

    pub(crate) fn test_key() -> PrivateKey {
        use std::sync::OnceLock;
        static KEY: OnceLock<PrivateKey> = OnceLock::new();
        KEY.get_or_init(|| PrivateKey::generate().unwrap()).clone()
    }

    #[test]
    fn signature_is_over_mac_mod_q_as_20_plus_20_bytes() {
        let key = test_key();
        let mac = [0xffu8; 32];
        let sig = key.sign(&mac).unwrap();
        assert_eq!(sig.len(), 40);
        key.public().verify(&mac, &sig).unwrap();
        // The signed value is M mod q: M + q (same residue) verifies, a different M does not.
        let q = BigUint::from_bytes_be(&key.components().q);
        let m = BigUint::from_bytes_be(&[0x11u8; 32]);
        let mut same = [0u8; 32];
        let alt = (&m % &q + &q).to_bytes_be();
        same[32 - alt.len()..].copy_from_slice(&alt);
        let sig = key.sign(&[0x11u8; 32]).unwrap();
        key.public().verify(&same, &sig).unwrap();
        // Truncation to 160 bits would differ from reduction: check the reduced value is used.
        let mut other = [0x11u8; 32];
        other[31] ^= 1;
        assert_eq!(key.public().verify(&other, &sig), Err(OtrError::Signature));
        let mut bad = sig.clone();
        bad[39] ^= 1;
        assert!(key.public().verify(&[0x11u8; 32], &bad).is_err());
        assert!(key.public().verify(&[0x11u8; 32], &sig[..39]).is_err());
    }

    #[test]
    fn components_round_trip_through_bincode() {
        let key = test_key();
        let bytes = bincode::serde::encode_to_vec(&key, bincode::config::standard()).unwrap();
        let (back, _): (PrivateKey, usize) =
            bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
        assert_eq!(back.fingerprint(), key.fingerprint());
        // Read back without the group checks, it signs as the original.
        let sig = back.sign(&[7; 32]).unwrap();
        key.public().verify(&[7; 32], &sig).unwrap();
        let c = key.components();
        let mut wrong = c.x.to_vec();
        wrong[5] ^= 1;
        assert!(PrivateKey::from_components(&c.p, &c.q, &c.g, &c.y, &wrong).is_err());
    }
}
