//! Value encoding: bincode 2 (serde) prefixed by the schema version, decoded without panics.

use super::error::Error;
use serde::de::DeserializeOwned;
use serde::Serialize;
use zeroize::Zeroizing;

/// The schema version written before every value and in the meta tree.
pub const SCHEMA_VERSION: u32 = 2;

/// The largest value decoded, in bytes; larger claims are refused, not allocated.
pub const MAX_VALUE_BYTES: usize = 16 * 1024 * 1024;

type Config = bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<MAX_VALUE_BYTES>,
>;

pub(crate) fn config() -> Config {
    bincode::config::standard().with_limit::<MAX_VALUE_BYTES>()
}

/// Encodes `value` as `version || bincode(value)`; the buffer is wiped when dropped.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Zeroizing<Vec<u8>>, Error> {
    bincode::serde::encode_to_vec((SCHEMA_VERSION, value), config())
        .map(Zeroizing::new)
        .map_err(|e| Error::Encode(e.to_string()))
}

/// Decodes a value written by [`encode`]; `tree` names where it came from for the error.
pub fn decode<T: DeserializeOwned>(tree: &'static str, bytes: &[u8]) -> Result<T, Error> {
    let bad = |reason: String| Error::Decode { tree, reason };
    let (version, used): (u32, usize) =
        bincode::serde::decode_from_slice(bytes, config()).map_err(|e| bad(e.to_string()))?;
    if version != SCHEMA_VERSION {
        return Err(Error::SchemaMismatch {
            found: version,
            expected: SCHEMA_VERSION,
        });
    }
    let rest = &bytes[used..];
    let (value, n): (T, usize) =
        bincode::serde::decode_from_slice(rest, config()).map_err(|e| bad(e.to_string()))?;
    if n != rest.len() {
        return Err(bad(format!("{} trailing bytes", rest.len() - n)));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct V {
        a: String,
        b: Vec<u8>,
        c: Option<u64>,
    }

    #[test]
    fn round_trip() {
        let v = V {
            a: "x".into(),
            b: vec![0, 255],
            c: Some(u64::MAX),
        };
        let e = encode(&v).unwrap();
        assert_eq!(e[0] as u32, SCHEMA_VERSION);
        assert_eq!(decode::<V>("t", &e).unwrap(), v);
    }

    #[test]
    fn garbage_is_a_typed_error() {
        let e = encode(&V {
            a: "hello".into(),
            b: vec![1; 40],
            c: None,
        })
        .unwrap();
        for cut in 0..e.len() {
            assert!(decode::<V>("t", &e[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = e.to_vec();
        long.push(0);
        assert!(matches!(
            decode::<V>("t", &long),
            Err(Error::Decode { tree: "t", .. })
        ));
        // A length prefix claiming far more than the limit is refused without allocating it.
        let huge = [
            SCHEMA_VERSION as u8,
            253,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0x7f,
        ];
        assert!(decode::<V>("t", &huge).is_err());
    }

    #[test]
    fn other_version_is_a_mismatch() {
        let raw = bincode::serde::encode_to_vec((SCHEMA_VERSION + 1, 5u8), config()).unwrap();
        assert!(matches!(
            decode::<u8>("t", &raw),
            Err(Error::SchemaMismatch { found, .. }) if found == SCHEMA_VERSION + 1
        ));
    }
}
