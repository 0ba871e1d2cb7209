//! The bot's OMEMO device fingerprint as the course page shows it: the channel outside the
//! chat, where the learner compares what their client shows and trusts only that device.
//!
//! [`view`] is pure: grouping as the clients show it, the `xmpp:` URI Conversations scans
//! (with exactly one device in it) and that URI's QR code as inline SVG. The partial
//! `templates/omemo_fingerprint.html.tera` renders a [`FingerprintView`].
//!
//! The input is the fingerprint as clients show it: 64 hex digits, without the `05` type byte
//! of the serialized key (what `omemo::Fingerprint::hex` gives). A 66-digit `05…` string is
//! refused ([`ViewError::TypeBytePrefix`]) rather than trimmed: it means the caller passed the
//! serialized key, and the URI must carry the 64 digits (Conversations puts the `05` back
//! itself when it reads `omemo-sid-…`).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use qrcode::{Color, EcLevel, QrCode};
use serde::Serialize;
use std::fmt::Write;

/// The modules of white around the code, as ISO/IEC 18004 asks for.
const QUIET_ZONE: usize = 4;

/// CSS pixels per module in the SVG's own `width`/`height` (the page's CSS may scale it).
const MODULE_PX: usize = 4;

/// What stays as it is in the node of an `xmpp:` URI: RFC 5122 `nodeid` is unreserved
/// characters and `nodeallow` (`!$()*+,;=`); everything else is percent-encoded (UTF-8).
const NODE_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=');

/// What stays as it is in the domain (RFC 3986 `reg-name`: unreserved and sub-delims but `&`
/// and `'`, which a JID's domain cannot hold anyway).
const DOMAIN_ESCAPES: &AsciiSet = NODE_ESCAPES;

/// The English accessible name of the QR code, for [`view`]'s `label` once translated.
pub const QR_LABEL: &str =
    crate::tr!("QR code with the address of the bot and the fingerprint of its OMEMO device");

/// The bot's OMEMO device as the course page shows it (a Tera context value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FingerprintView {
    /// The device id (1..2^31), as clients list it next to the fingerprint.
    pub device_id: u32,
    /// The fingerprint in 8 groups of 8 lower-case hex digits.
    pub groups: Vec<String>,
    /// The groups joined by spaces, as Conversations, Gajim and Dino show it.
    pub spaced: String,
    /// The groups joined by `-`, as Profanity 0.13 prints it and accepts in `/omemo trust`.
    pub dashed: String,
    /// `xmpp:<bare JID>?omemo-sid-<device id>=<64 hex>`, the URI Conversations scans.
    pub uri: String,
    /// The QR code of `uri` as inline SVG (black on white, quiet zone 4, level M, labelled).
    pub qr_svg: String,
}

/// Why no view could be made of the given device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    /// The fingerprint is not 64 hexadecimal digits.
    #[error("an OMEMO fingerprint is 64 hexadecimal digits; got {len} characters{}",
        .not_hex.map(|c| format!(", with {c:?} among them")).unwrap_or_default())]
    NotHex64 {
        /// How many characters were given.
        len: usize,
        /// The first character that is not a hex digit, if any.
        not_hex: Option<char>,
    },
    /// The fingerprint has the serialized key's `05` type byte in front (66 digits).
    #[error("the fingerprint has the key's 05 type byte in front; give the 64 digits after it")]
    TypeBytePrefix,
    /// The device id is outside 1..2^31, so clients would not take it.
    #[error("an OMEMO device id is between 1 and 2147483647; got {0}")]
    DeviceId(u32),
    /// The bot's JID is not a bare JID with a local part.
    #[error("the bot's Jabber ID: {0}")]
    BadJid(String),
    /// The URI is too long for a QR code (a JID of thousands of bytes).
    #[error("the URI is too long for a QR code ({0} bytes)")]
    TooLongForQr(usize),
}

/// The view of device `device_id` of `bot` (a bare JID) with fingerprint `fingerprint_hex` (64
/// hex digits, any case, no `05`); `label` (already translated) names the QR code for screen
/// readers.
pub fn view(
    bot: &str,
    device_id: u32,
    fingerprint_hex: &str,
    label: &str,
) -> Result<FingerprintView, ViewError> {
    let hex = fingerprint(fingerprint_hex)?;
    if device_id == 0 || device_id > 0x7fff_ffff {
        return Err(ViewError::DeviceId(device_id));
    }
    let jid = crate::xmpp::jid::parse_bare(bot).map_err(ViewError::BadJid)?;
    let node = jid
        .node()
        .ok_or_else(|| ViewError::BadJid("no local part".into()))?;
    let domain = jid.domain().as_str();
    // An IP literal (`[::1]`) is already URI syntax; a domain name is encoded like a node.
    let domain = if domain.starts_with('[') {
        domain.to_owned()
    } else {
        utf8_percent_encode(domain, DOMAIN_ESCAPES).to_string()
    };
    let uri = format!(
        "xmpp:{}@{domain}?omemo-sid-{device_id}={hex}",
        utf8_percent_encode(node.as_str(), NODE_ESCAPES)
    );
    let groups: Vec<String> = hex
        .as_bytes()
        .chunks(8)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let qr_svg = qr_svg(&uri, label)?;
    Ok(FingerprintView {
        device_id,
        spaced: groups.join(" "),
        dashed: groups.join("-"),
        groups,
        uri,
        qr_svg,
    })
}

/// The 64 lower-case hex digits of `s`, or why `s` is not a fingerprint.
fn fingerprint(s: &str) -> Result<String, ViewError> {
    let not_hex = s.chars().find(|c| !c.is_ascii_hexdigit());
    let len = s.chars().count();
    if len == 66 && not_hex.is_none() && s.starts_with("05") {
        return Err(ViewError::TypeBytePrefix);
    }
    if len != 64 || not_hex.is_some() {
        return Err(ViewError::NotHex64 { len, not_hex });
    }
    Ok(s.to_ascii_lowercase())
}

/// `s` safe in XML text and in a double- or single-quoted attribute.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0 at all.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The QR code (level M) of `text` as an inline SVG named `label`: one path of dark runs on a
/// white square, quiet zone included, scalable (viewBox in modules).
fn qr_svg(text: &str, label: &str) -> Result<String, ViewError> {
    let code = QrCode::with_error_correction_level(text, EcLevel::M)
        .map_err(|_| ViewError::TooLongForQr(text.len()))?;
    let n = code.width();
    let colors = code.to_colors();
    let side = n + 2 * QUIET_ZONE;
    let px = side * MODULE_PX;
    let label = xml_escape(label);
    let mut svg = format!(
        concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="qr" role="img" aria-label="{label}""#,
            r#" width="{px}" height="{px}" viewBox="0 0 {side} {side}" shape-rendering="crispEdges">"#,
            r##"<title>{label}</title><rect width="{side}" height="{side}" fill="#fff"/>"##,
            r##"<path fill="#000" d=""##
        ),
        label = label,
        px = px,
        side = side
    );
    // Each run of dark modules in a row is one rectangle of height 1.
    for (y, row) in colors.chunks(n).enumerate() {
        let mut x = 0;
        while x < n {
            if row[x] == Color::Dark {
                let start = x;
                while x < n && row[x] == Color::Dark {
                    x += 1;
                }
                let (left, top, w) = (start + QUIET_ZONE, y + QUIET_ZONE, x - start);
                write!(svg, "M{left} {top}h{w}v1h-{w}z").expect("writing to a String");
            } else {
                x += 1;
            }
        }
    }
    svg.push_str(r#""/></svg>"#);
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::process::Command;

    const FP: &str = "3D8A1A5E0B2C4F6172839405A6B7C8D9e0f1a2b3c4d5e6f708192a3b4c5d6e7f";
    const LABEL: &str = QR_LABEL;

    fn good() -> FingerprintView {
        view("bot@example.org", 1_234_567, FP, LABEL).unwrap()
    }

    #[test]
    fn groups_dashes_and_uri_of_a_known_fingerprint() {
        let v = good();
        let lower = FP.to_ascii_lowercase();
        assert_eq!(v.device_id, 1_234_567);
        assert_eq!(
            v.groups,
            [
                "3d8a1a5e", "0b2c4f61", "72839405", "a6b7c8d9", "e0f1a2b3", "c4d5e6f7", "08192a3b",
                "4c5d6e7f"
            ]
        );
        assert_eq!(
            v.spaced,
            "3d8a1a5e 0b2c4f61 72839405 a6b7c8d9 e0f1a2b3 c4d5e6f7 08192a3b 4c5d6e7f"
        );
        assert_eq!(
            v.dashed,
            "3d8a1a5e-0b2c4f61-72839405-a6b7c8d9-e0f1a2b3-c4d5e6f7-08192a3b-4c5d6e7f"
        );
        assert_eq!(
            v.uri,
            format!("xmpp:bot@example.org?omemo-sid-1234567={lower}")
        );
        // The same digits as the omemo crate's own grouping (what the bot logs).
        assert_eq!(
            omemo::keys::Fingerprint::parse(&v.dashed)
                .unwrap()
                .grouped(),
            v.spaced
        );
    }

    #[test]
    fn the_jid_is_percent_encoded_where_rfc_5122_asks() {
        let v = view("Tu#tor?bot%1;x=y@Exämple.org", 7, FP, LABEL).unwrap();
        let lower = FP.to_ascii_lowercase();
        // The JID parser normalises (nodeprep and nameprep fold case); `;` and `=` are
        // `nodeallow` and stay; `#`, `?`, `%` and the UTF-8 of `ä` are encoded.
        assert_eq!(
            v.uri,
            format!("xmpp:tu%23tor%3Fbot%251;x=y@ex%C3%A4mple.org?omemo-sid-7={lower}")
        );
        assert_eq!(v.uri.matches('?').count(), 1);
    }

    #[test]
    fn bad_inputs_give_the_named_error() {
        let e = |bot: &str, id: u32, fp: &str| view(bot, id, fp, LABEL).unwrap_err();
        assert_eq!(
            e("bot@example.org", 1, &FP[..63]),
            ViewError::NotHex64 {
                len: 63,
                not_hex: None
            }
        );
        let g = format!("{}g", &FP[..63]);
        assert_eq!(
            e("bot@example.org", 1, &g),
            ViewError::NotHex64 {
                len: 64,
                not_hex: Some('g')
            }
        );
        let grouped = good().spaced;
        assert!(matches!(
            e("bot@example.org", 1, &grouped),
            ViewError::NotHex64 {
                len: 71,
                not_hex: Some(' ')
            }
        ));
        assert_eq!(e("bot@example.org", 0, FP), ViewError::DeviceId(0));
        assert_eq!(
            e("bot@example.org", 1 << 31, FP),
            ViewError::DeviceId(1 << 31)
        );
        for jid in [
            "",
            "example.org",
            "bot@example.org/res",
            "a@@b",
            "bot@nodot",
        ] {
            assert!(
                matches!(e(jid, 1, FP), ViewError::BadJid(_)),
                "{jid:?} accepted"
            );
        }
        // 1000 `#`, each `%23` in the URI: more than the 2331 bytes of a version 40-M code.
        let long = format!("{}@example.org", "#".repeat(1000));
        assert_eq!(
            e(&long, 1, FP),
            ViewError::TooLongForQr(3000 + "xmpp:@example.org?omemo-sid-1=".len() + 64)
        );
        // The messages say what is wrong.
        assert!(e("bot@example.org", 1, &g).to_string().contains("'g'"));
        assert!(e("b", 1, FP).to_string().starts_with("the bot's Jabber ID"));
    }

    /// Decision: the serialized key's `05` type byte is refused, not trimmed (module docs).
    #[test]
    fn a_05_prefixed_key_is_refused() {
        let with_05 = format!("05{FP}");
        assert_eq!(
            view("bot@example.org", 1, &with_05, LABEL),
            Err(ViewError::TypeBytePrefix)
        );
        // 66 digits not starting with 05 are just the wrong length.
        assert!(matches!(
            view("bot@example.org", 1, &format!("06{FP}"), LABEL),
            Err(ViewError::NotHex64 { len: 66, .. })
        ));
    }

    #[test]
    fn the_svg_carries_the_escaped_label_and_no_script() {
        let label = r#"<script>alert("x")</script> & 'QR' code"#;
        let v = view("bot@example.org", 1, FP, label).unwrap();
        let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;QR&#39; code";
        assert!(v.qr_svg.contains(&format!(r#"aria-label="{escaped}""#)));
        assert!(v.qr_svg.contains(&format!("<title>{escaped}</title>")));
        assert!(v.qr_svg.contains(r#"role="img""#));
        assert!(!v.qr_svg.to_ascii_lowercase().contains("<script"));
        assert!(v.qr_svg.starts_with("<svg ") && v.qr_svg.ends_with("</svg>"));
        // Nothing but the label comes from outside: no other text, no second device.
        assert_eq!(v.qr_svg.matches('<').count(), 6, "{}", v.qr_svg);
        assert_eq!(v.uri.matches("omemo-sid-").count(), 1);
    }

    /// The partial, rendered by the real templates and catalogues, in `locale`.
    fn partial(v: &FingerprintView, locale: &str) -> String {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let catalogs = crate::i18n::Catalogs::load(&root.join("locales")).unwrap();
        let pages =
            crate::lti::Pages::load(&root.join("templates"), catalogs.into(), "en_GB").unwrap();
        let mut ctx = tera::Context::new();
        ctx.insert("omemo", v);
        ctx.insert("bot_alias", "Otto & <Bot>");
        ctx.insert("bot_jid", "bot@example.org");
        pages
            .render(locale, "omemo_fingerprint.html.tera", &ctx)
            .unwrap()
    }

    #[test]
    fn the_partial_shows_groups_profanity_form_qr_code_and_link() {
        let v = good();
        for locale in ["en_GB", "nl_NL", "de_DE"] {
            let page = partial(&v, locale);
            // The SVG goes in as it is; everything else is escaped.
            assert!(page.contains(&v.qr_svg), "{locale}: SVG escaped");
            assert!(!page.contains("Otto & <Bot>") && page.contains("Otto &amp; &lt;Bot&gt;"));
            let groups: String = v.groups.iter().map(|g| format!("<li>{g}</li>")).collect();
            assert!(page.contains(&groups), "{locale}");
            assert!(page.contains(&format!(
                r#"<code id="omemo-profanity">/omemo trust bot@example.org {}</code>"#,
                v.dashed
            )));
            assert!(page.contains(&format!(r#"<a href="{}" id="omemo-uri">"#, v.uri)));
            assert!(page.contains(r#"aria-labelledby="omemo-heading""#));
            assert!(page.contains(r#"<ol class="fp" id="omemo-fingerprint" aria-label=""#));
        }
        // Translated, not the English text, in the other locales.
        assert!(!partial(&v, "nl_NL").contains("Device ID:"));
        assert!(!partial(&v, "de_DE").contains("Device ID:"));
    }

    /// `tool` on PATH, or a failure naming the Debian package that brings it.
    fn tool(tool: &str, package: &str) -> PathBuf {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
            .unwrap_or_else(|| {
                panic!("`{tool}` is missing: install the Debian package {package} (scripts/lib/deps.sh does)")
            })
    }

    /// Renders `svg` to PNG with rsvg-convert and reads it with zbarimg: an independent
    /// renderer and decoder.
    fn decode(svg: &str) -> String {
        let rsvg = tool("rsvg-convert", "librsvg2-bin");
        let zbar = tool("zbarimg", "zbar-tools");
        let dir = tempfile::tempdir().unwrap();
        let (svg_path, png) = (dir.path().join("qr.svg"), dir.path().join("qr.png"));
        std::fs::write(&svg_path, svg).unwrap();
        let out = Command::new(rsvg)
            .arg("-o")
            .arg(&png)
            .arg(&svg_path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "rsvg-convert: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new(zbar)
            .args(["--raw", "-q"])
            .arg(&png)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "zbarimg found no code (exit {:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .trim_end_matches('\n')
            .to_owned()
    }

    #[test]
    fn the_qr_code_decodes_to_the_uri_with_an_independent_decoder() {
        for v in [
            good(),
            view("Tu#tor?bot%1;x=y@Exämple.org", 0x7fff_ffff, FP, "<&>").unwrap(),
            view(
                &format!("{}@example.org", "long".repeat(100)),
                42,
                FP,
                LABEL,
            )
            .unwrap(),
        ] {
            assert_eq!(decode(&v.qr_svg), v.uri, "{} bytes of SVG", v.qr_svg.len());
        }
    }

    #[test]
    fn the_qr_code_has_a_quiet_zone_of_four_modules() {
        let v = good();
        let side: usize = v
            .qr_svg
            .split(r#"viewBox="0 0 "#)
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .unwrap()
            .parse()
            .unwrap();
        let path = v.qr_svg.split(r#" d=""#).nth(1).unwrap();
        let mut min = usize::MAX;
        let mut max_end = 0;
        for run in path.split('M').skip(1) {
            let (x, rest) = run.split_once(' ').unwrap();
            let (y, rest) = rest.split_once('h').unwrap();
            let w: usize = rest.split_once('v').unwrap().0.parse().unwrap();
            let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
            min = min.min(x).min(y);
            max_end = max_end.max(x + w).max(y + 1);
        }
        assert_eq!(min, QUIET_ZONE);
        assert_eq!(side - max_end, QUIET_ZONE);
    }
}
