//! The bot's avatar: XEP-0084 User Avatar published through the account's PEP service (the
//! image in `urn:xmpp:avatar:data`, then its description in `urn:xmpp:avatar:metadata`), and
//! the XEP-0153 hash announced in the bot's presence.

use super::pep::{publish_iq, Access};
use data_encoding::HEXLOWER;
use sha1::{Digest, Sha1};
use std::path::Path;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::avatar::{Data, Info, Metadata};
use tokio_xmpp::parsers::vcard_update::{Photo, VCardUpdate};
use tokio_xmpp::Stanza;

/// The largest avatar published, in bytes (as `settings::validate` allows).
pub const MAX_BYTES: usize = 128 * 1024;
/// The PEP node holding the image.
pub const DATA_NODE: &str = "urn:xmpp:avatar:data";
/// The PEP node describing the image.
pub const METADATA_NODE: &str = "urn:xmpp:avatar:metadata";
/// The iq ids of the two publications (their errors are logged by the connection).
pub const PUBLISH_IDS: [&str; 2] = ["otrbot-avatar-data", "otrbot-avatar-metadata"];

/// Why an avatar cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AvatarError {
    /// The file cannot be read.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// More than [`MAX_BYTES`].
    #[error("the avatar has {0} bytes; at most {MAX_BYTES} are allowed")]
    TooLarge(usize),
    /// Neither PNG nor JPEG.
    #[error("the avatar must be a PNG or JPEG image")]
    NotAnImage,
    /// The hash could not be written as an XEP-0084 id.
    #[error("avatar id: {0}")]
    Id(String),
}

/// An avatar image ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Avatar {
    /// The image file's bytes.
    pub bytes: Vec<u8>,
    /// Their SHA-1 (the XEP-0084 item id and the XEP-0153 photo hash).
    pub sha1: [u8; 20],
    /// `image/png` or `image/jpeg`.
    pub mime: &'static str,
    /// Width and height in pixels, when the header says (PNG).
    pub size: Option<(u16, u16)>,
    /// The XEP-0084 description.
    info: Info,
}

impl Avatar {
    /// Reads and checks the image at `path`.
    pub fn load(path: &Path) -> Result<Avatar, AvatarError> {
        let bytes = std::fs::read(path).map_err(|error| AvatarError::Read {
            path: path.display().to_string(),
            error,
        })?;
        Avatar::from_bytes(bytes)
    }

    /// Checks an image: at most [`MAX_BYTES`], PNG or JPEG.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Avatar, AvatarError> {
        if bytes.len() > MAX_BYTES {
            return Err(AvatarError::TooLarge(bytes.len()));
        }
        let (mime, size) = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            ("image/png", png_size(&bytes))
        } else if bytes.starts_with(b"\xff\xd8\xff") {
            ("image/jpeg", None)
        } else {
            return Err(AvatarError::NotAnImage);
        };
        let sha1: [u8; 20] = Sha1::digest(&bytes).into();
        let info = Info {
            bytes: bytes.len() as u32,
            width: size.map(|s| s.0),
            height: size.map(|s| s.1),
            id: HEXLOWER
                .encode(&sha1)
                .parse()
                .map_err(|e: std::num::ParseIntError| AvatarError::Id(e.to_string()))?,
            type_: mime.to_owned(),
            url: None,
        };
        Ok(Avatar {
            bytes,
            sha1,
            mime,
            size,
            info,
        })
    }

    /// The SHA-1 in lower-case hex.
    pub fn id(&self) -> String {
        HEXLOWER.encode(&self.sha1)
    }

    /// The two iq sets that publish the avatar: the data first, then the metadata (XEP-0084
    /// §4.1 and §4.2: a client that sees the metadata can then fetch the data).
    pub fn publish(&self) -> [Stanza; 2] {
        let data = Data {
            data: self.bytes.clone(),
        };
        let metadata = Metadata {
            infos: vec![self.info.clone()],
        };
        [
            publish_iq(
                PUBLISH_IDS[0],
                DATA_NODE,
                &self.id(),
                data.into(),
                Access::Default,
            ),
            publish_iq(
                PUBLISH_IDS[1],
                METADATA_NODE,
                &self.id(),
                metadata.into(),
                Access::Default,
            ),
        ]
    }

    /// The XEP-0153 presence payload announcing this avatar's hash.
    pub fn presence_update(&self) -> Element {
        VCardUpdate {
            photo: Some(Photo {
                data: Some(self.sha1),
            }),
        }
        .into()
    }
}

/// Width and height from a PNG's IHDR chunk (bytes 16..24, big-endian), if they fit a u16.
fn png_size(b: &[u8]) -> Option<(u16, u16)> {
    let ihdr = b.get(12..24)?;
    if &ihdr[..4] != b"IHDR" {
        return None;
    }
    let w = u32::from_be_bytes(ihdr[4..8].try_into().ok()?);
    let h = u32::from_be_bytes(ihdr[8..12].try_into().ok()?);
    Some((u16::try_from(w).ok()?, u16::try_from(h).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1×1 PNG header (signature and IHDR; the rest does not matter here).
    fn png() -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        b.extend_from_slice(&[0, 0, 0, 3, 0, 0, 0, 2, 8, 6, 0, 0, 0]);
        b
    }

    #[test]
    fn png_is_described_and_published_data_first() {
        let a = Avatar::from_bytes(png()).unwrap();
        assert_eq!((a.mime, a.size), ("image/png", Some((3, 2))));
        assert_eq!(a.id().len(), 40);
        let [data, meta] = a.publish();
        let data = String::from(&Element::from(data));
        let meta = String::from(&Element::from(meta));
        assert!(
            data.contains(DATA_NODE) && !data.contains(METADATA_NODE),
            "{data}"
        );
        assert!(data.contains(&a.id()));
        assert!(meta.contains(METADATA_NODE), "{meta}");
        assert!(
            meta.contains(&format!("bytes='{}'", a.bytes.len())),
            "{meta}"
        );
        assert!(meta.contains("type='image/png'"), "{meta}");
        assert!(
            meta.contains("width='3'") && meta.contains("height='2'"),
            "{meta}"
        );
        let x = String::from(&a.presence_update());
        assert!(
            x.contains("vcard-temp:x:update") && x.contains(&a.id()),
            "{x}"
        );
    }

    #[test]
    fn other_files_are_refused() {
        assert!(matches!(
            Avatar::from_bytes(b"GIF89a".to_vec()),
            Err(AvatarError::NotAnImage)
        ));
        let mut big = png();
        big.resize(MAX_BYTES + 1, 0);
        assert!(matches!(
            Avatar::from_bytes(big),
            Err(AvatarError::TooLarge(_))
        ));
        let jpeg = Avatar::from_bytes(b"\xff\xd8\xff\xe0rest".to_vec()).unwrap();
        assert_eq!((jpeg.mime, jpeg.size), ("image/jpeg", None));
    }
}
