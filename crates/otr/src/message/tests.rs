//! Tests of message classification, parsing and encoding.

use super::*;
use crate::policy::Versions;

#[test]
fn classifies_like_libotr() {
    let v23 = Versions { v2: true, v3: true };
    assert_eq!(classify("?OTRv23?").unwrap(), Classified::Query(v23));
    assert_eq!(
        classify("?OTR?v2?").unwrap(),
        Classified::Query(Versions {
            v2: true,
            v3: false
        })
    );
    assert_eq!(
        classify("?OTR?").unwrap(),
        Classified::Query(Versions::default())
    );
    assert_eq!(
        classify(&default_query(v23, "alice@x")).unwrap(),
        Classified::Query(v23)
    );
    assert_eq!(
        classify("?OTR Error: oops").unwrap(),
        Classified::Error("oops".into())
    );
    assert_eq!(
        classify("hello").unwrap(),
        Classified::Plain("hello".into())
    );
    let tagged = format!("hi{}", whitespace_tag(v23));
    assert_eq!(
        classify(&tagged).unwrap(),
        Classified::Tagged {
            text: "hi".into(),
            versions: v23
        }
    );
    let v2only = format!("a{}{}{}b", TAG_BASE, TAG_V1, TAG_V2);
    assert_eq!(
        classify(&v2only).unwrap(),
        Classified::Tagged {
            text: "ab".into(),
            versions: Versions {
                v2: true,
                v3: false
            }
        }
    );
    assert_eq!(
        classify("?OTR:AAMC.").unwrap(),
        Classified::Encoded(vec![0, 3, 2])
    );
    assert!(classify("?OTR:AAMC").is_err());
    assert!(matches!(
        classify("?OTR|1|2,1,1,x,").unwrap(),
        Classified::Fragment(_)
    ));
}

#[test]
fn message_round_trip() {
    let header = Header {
        version: Version::V3,
        sender: 0x1234,
        receiver: 0,
    };
    let bodies = vec![
        Body::DhCommit {
            encrypted_gx: vec![1, 2, 3],
            hashed_gx: [7; 32],
        },
        Body::DhKey { gy: vec![9, 9] },
        Body::RevealSig {
            revealed_key: vec![5; 16],
            encrypted_sig: vec![1; 50],
            mac: [3; 20],
        },
        Body::Signature {
            encrypted_sig: vec![2; 44],
            mac: [4; 20],
        },
    ];
    for body in bodies {
        let m = Message { header, body };
        assert_eq!(Message::parse(&m.encode()).unwrap(), m);
    }
    let auth = data_authenticated(&header, 1, 2, 3, &[4, 5], &[6; 8], &[7; 9]);
    let d = DataMessage {
        flags: 1,
        sender_keyid: 2,
        recipient_keyid: 3,
        next_dh: vec![4, 5],
        ctr: [6; 8],
        encrypted: vec![7; 9],
        mac: [8; 20],
        old_mac_keys: vec![1; 20],
        authenticated: auth,
    };
    let m = Message {
        header,
        body: Body::Data(d),
    };
    assert_eq!(Message::parse(&m.encode()).unwrap(), m);
    let mut bytes = m.encode();
    bytes.push(0);
    assert_eq!(
        Message::parse(&bytes),
        Err(OtrError::Malformed("trailing bytes"))
    );
}

#[test]
fn parser_never_panics_on_mutations() {
    let header = Header {
        version: Version::V3,
        sender: 0x1234,
        receiver: 0x5678,
    };
    let auth = data_authenticated(&header, 0, 1, 1, &[4; 192], &[0; 8], &[7; 30]);
    let mut seed = auth.clone();
    seed.extend_from_slice(&[0; 20]);
    seed.extend_from_slice(&[0, 0, 0, 0]);
    let mut state = 0x9e3779b97f4a7c15u64;
    for _ in 0..20000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut m = seed.clone();
        let n = (state % 4) as usize + 1;
        for k in 0..n {
            let pos = ((state >> (8 * k)) as usize) % m.len();
            m[pos] = (state >> (3 * k)) as u8;
        }
        m.truncate(((state >> 40) as usize) % (m.len() + 1));
        let _ = Message::parse(&m);
        let _ = classify(&armor(&m));
    }
}
