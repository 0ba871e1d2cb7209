//! Plain text from what chat clients send (Pidgin puts HTML inside OTR messages).

/// Removes HTML tags, turns `<br>` and block ends into new lines, decodes the common
/// entities, and trims the result.
pub fn strip_markup(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(i) = rest.find(['<', '&']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after_lt) = tail.strip_prefix('<') {
            let opens_tag = after_lt
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!');
            match tail.find('>').filter(|_| opens_tag) {
                Some(end) => {
                    let tag = tail[1..end].trim().to_ascii_lowercase();
                    let name = tag.trim_start_matches('/');
                    let name = name.split([' ', '/']).next().unwrap_or("");
                    if name == "br" || (tag.starts_with('/') && matches!(name, "p" | "div")) {
                        out.push('\n');
                    }
                    rest = &tail[end + 1..];
                }
                None => {
                    out.push('<');
                    rest = after_lt;
                }
            }
        } else {
            let entity = tail
                .find(';')
                .filter(|&e| e <= 10)
                .map(|e| (&tail[1..e], e));
            let decoded = entity.and_then(|(name, e)| decode_entity(name).map(|c| (c, e)));
            match decoded {
                Some((c, e)) => {
                    out.push(c);
                    rest = &tail[e + 1..];
                }
                None => {
                    out.push('&');
                    rest = &tail[1..];
                }
            }
        }
    }
    out.push_str(rest);
    out.trim().to_owned()
}

fn decode_entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some(' '),
        _ => {
            let num = name.strip_prefix('#')?;
            let v = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(v).filter(|c| !c.is_control() || *c == '\n')
        }
    }
}

#[cfg(test)]
mod tests {
    use super::strip_markup;

    #[test]
    fn pidgin_markup() {
        assert_eq!(
            strip_markup("<FONT COLOR=\"#000\">hello<br>there</FONT>"),
            "hello\nthere"
        );
        assert_eq!(strip_markup("<body><p>hi</p></body>"), "hi");
        assert_eq!(strip_markup("a &amp; b &lt;3 &#233;&#x41;"), "a & b <3 éA");
        assert_eq!(strip_markup("  plain  "), "plain");
    }

    #[test]
    fn odd_input_does_not_panic() {
        assert_eq!(strip_markup("1 < 2 & 3 > 2"), "1 < 2 & 3 > 2");
        assert_eq!(strip_markup("<<<"), "<<<");
        assert_eq!(
            strip_markup("&#xFFFFFFFF; &#0; &bogus;"),
            "&#xFFFFFFFF; &#0; &bogus;"
        );
        assert_eq!(strip_markup("é<b>ü</b>"), "éü");
        assert_eq!(strip_markup(""), "");
    }
}
