//! The LTI 1.1 Basic Outcomes POX messages: the `replaceResult` request otrbot sends and the
//! `imsx_codeMajor` of the LMS's answer, built and read with minidom (which escapes).

use minidom::rxml::strings::validate_cdata;
use minidom::Element;

/// The namespace of LTI 1.1 Basic Outcomes messages.
pub const NS: &str = "http://www.imsglobal.org/services/ltiv1p1/xsd/imsoms_v1p0";

/// Why a request could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the outcome XML: {0}")]
pub struct XmlError(String);

/// An element of the outcomes namespace holding `children`.
fn el(name: &str, children: impl IntoIterator<Item = Element>) -> Element {
    Element::builder(name, NS).append_all(children).build()
}

/// An element of the outcomes namespace holding `text`.
fn text(name: &str, text: &str) -> Element {
    Element::builder(name, NS).append(text).build()
}

/// The `replaceResult` request body for `sourcedid` and `score` (clamped to 0..=1). Text that
/// XML cannot carry (control characters) is an error, not a broken document.
pub fn replace_result_xml(
    message_id: &str,
    sourcedid: &str,
    score: f64,
) -> Result<String, XmlError> {
    // minidom's writer panics on such text; rxml's own check says so first.
    for t in [message_id, sourcedid] {
        validate_cdata(t).map_err(|e| XmlError(e.to_string()))?;
    }
    let score = if score.is_finite() {
        score.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let header = el(
        "imsx_POXHeader",
        [el(
            "imsx_POXRequestHeaderInfo",
            [
                text("imsx_version", "V1.0"),
                text("imsx_messageIdentifier", message_id),
            ],
        )],
    );
    let record = el(
        "resultRecord",
        [
            el("sourcedGUID", [text("sourcedId", sourcedid)]),
            el(
                "result",
                [el(
                    "resultScore",
                    [
                        text("language", "en"),
                        text("textString", &score.to_string()),
                    ],
                )],
            ),
        ],
    );
    let body = el("imsx_POXBody", [el("replaceResultRequest", [record])]);
    let envelope = el("imsx_POXEnvelopeRequest", [header, body]);
    let mut out = br#"<?xml version="1.0" encoding="UTF-8"?>"#.to_vec();
    envelope
        .write_to(&mut out)
        .map_err(|e| XmlError(e.to_string()))?;
    String::from_utf8(out).map_err(|e| XmlError(e.to_string()))
}

/// The text of the first `imsx_codeMajor` element of an LMS's answer (document order, any
/// namespace; an answer that declares none is taken to be in [`NS`]), trimmed; `None` when
/// the answer is not XML or has none.
pub fn code_major(xml: &str) -> Option<String> {
    let root =
        Element::from_reader_with_prefixes(xml.trim_start().as_bytes(), NS.to_owned()).ok()?;
    find(&root, "imsx_codeMajor").map(|e| e.text().trim().to_owned())
}

/// The first element named `name` in `e`'s tree, depth first.
fn find<'a>(e: &'a Element, name: &str) -> Option<&'a Element> {
    if e.name() == name {
        return Some(e);
    }
    e.children().find_map(|c| find(c, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_is_escaped_and_score_clamped() {
        let x = replace_result_xml("m<1>", "a&b</sourcedId>", 2.0).unwrap();
        // Read back, the texts are what was put in.
        let root: Element = x.parse().unwrap();
        assert!(root.is("imsx_POXEnvelopeRequest", NS));
        assert_eq!(find(&root, "sourcedId").unwrap().text(), "a&b</sourcedId>");
        assert_eq!(
            find(&root, "imsx_messageIdentifier").unwrap().text(),
            "m<1>"
        );
        assert_eq!(find(&root, "textString").unwrap().text(), "1");
        assert!(!x.contains("a&b<"), "{x}");
        assert!(
            x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
            "{x}"
        );
        let nan = replace_result_xml("m", "s", f64::NAN).unwrap();
        assert!(nan.contains(">0</textString>"), "{nan}");
        let half = replace_result_xml("m", "s", 0.5).unwrap();
        assert!(half.contains(">0.5</textString>"), "{half}");
    }

    #[test]
    fn text_xml_cannot_carry_is_an_error() {
        assert!(replace_result_xml("m", "a\u{1}b", 1.0).is_err());
    }

    #[test]
    fn code_major_found() {
        let ok = format!(
            "<?xml version=\"1.0\"?>\n<x:imsx_POXEnvelopeResponse xmlns:x=\"{NS}\"><x:imsx_POXHeader>\
             <x:imsx_statusInfo><x:imsx_codeMajor> success </x:imsx_codeMajor></x:imsx_statusInfo>\
             </x:imsx_POXHeader></x:imsx_POXEnvelopeResponse>"
        );
        assert_eq!(code_major(&ok).as_deref(), Some("success"));
        let fail = format!(r#"<r xmlns="{NS}"><imsx_codeMajor a="1">failure</imsx_codeMajor></r>"#);
        assert_eq!(code_major(&fail).as_deref(), Some("failure"));
        let empty = format!(r#"<r xmlns="{NS}"><imsx_codeMajor/></r>"#);
        assert_eq!(code_major(&empty).as_deref(), Some(""));
        // An answer without the namespace (some LMSes leave it out).
        let bare = "<r><imsx_codeMajor>success</imsx_codeMajor></r>";
        assert_eq!(code_major(bare).as_deref(), Some("success"));
        assert_eq!(code_major("<html xmlns=\"x\">nothing</html>"), None);
        assert_eq!(code_major("imsx_codeMajor"), None);
        assert_eq!(code_major("<imsx_codeMajor>success"), None);
        // No entity tricks: a DTD is refused, not expanded.
        let dtd = format!(
            "<!DOCTYPE r [<!ENTITY s \"success\">]><r xmlns=\"{NS}\"><imsx_codeMajor>&s;</imsx_codeMajor></r>"
        );
        assert_eq!(code_major(&dtd), None);
    }
}
