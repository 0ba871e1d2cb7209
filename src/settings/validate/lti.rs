//! `[lti]`: the public URL, stylesheet, consumers, timestamp window, grade timeout and the
//! LMS origins that may frame the pages.

use super::{bad, is_loopback};
use crate::settings::{SettingError, Settings};

/// An `http(s)://host/...` URL without query, fragment or spaces.
fn is_http_url(u: &str) -> bool {
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split('/').next().unwrap_or("");
        !host.is_empty() && !r.contains(['?', '#', ' '])
    })
}
/// `[lti]`: every key, as the pages and the grade sender need it.
pub(super) fn lti(s: &Settings) -> Result<(), SettingError> {
    if !is_http_url(&s.lti.public_url) {
        return Err(bad(
            "lti.public_url",
            "must be an http:// or https:// URL without query, like https://otr.example.org",
        ));
    }
    if !s.lti.css_url.is_empty() && !is_http_url(&s.lti.css_url) && !s.lti.css_url.starts_with('/')
    {
        return Err(bad(
            "lti.css_url",
            "must be empty, a path, or an http(s) URL",
        ));
    }
    for (key, secret) in &s.lti.consumers {
        if key.is_empty() || key.len() > 255 {
            return Err(bad(
                "lti.consumers",
                "a consumer key must be 1 to 255 characters",
            ));
        }
        if secret.len() < 8 {
            return Err(bad(
                format!("lti.consumers.{key}"),
                format!(
                    "the secret must be at least 8 characters (set it here or in {})",
                    crate::settings::env_name(&["OTRBOT_LTI_SECRET", key])
                ),
            ));
        }
    }
    if !(1..=3600).contains(&s.lti.timestamp_window) {
        return Err(bad(
            "lti.timestamp_window",
            "must be between 1 and 3600 seconds",
        ));
    }
    if let Some(port) = direct_port(&s.lti.public_url) {
        if port != s.lti.port {
            return Err(bad(
                "lti.public_url",
                format!(
                    "names port {port} on this machine, but the pages listen on port {} \
                     (lti.port): the LMS would sign its launches for another address",
                    s.lti.port
                ),
            ));
        }
    }
    if !(1..=300).contains(&s.lti.grade_timeout) {
        return Err(bad(
            "lti.grade_timeout",
            "must be between 1 and 300 seconds",
        ));
    }
    if s.lti.frame_ancestors.is_empty()
        || s.lti.frame_ancestors.len() > 64
        || !s.lti.frame_ancestors.iter().all(|o| is_frame_source(o))
    {
        return Err(bad(
            "lti.frame_ancestors",
            "must list 1 to 64 origins such as \"https://canvas.example.edu\" (scheme and host, \
             no path), or \"*\" for any",
        ));
    }
    Ok(())
}

/// The port of a public URL that reaches the pages directly: plain http to a loopback host
/// with the port written out (no proxy in between, so it must be the port they listen on).
fn direct_port(url: &str) -> Option<u16> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split('/').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    is_loopback(host).then(|| port.parse().ok()).flatten()
}

/// `*`, `'self'`, or an origin: `http(s)://host[:port]` (a `*.` wildcard host allowed), as
/// CSP's `frame-ancestors` takes it; nothing that could end the directive.
fn is_frame_source(o: &str) -> bool {
    if o == "*" || o == "'self'" {
        return true;
    }
    let Some(host) = o
        .strip_prefix("https://")
        .or_else(|| o.strip_prefix("http://"))
    else {
        return false;
    };
    !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '*'))
}

#[cfg(test)]
mod tests {
    use crate::settings::testing::*;

    #[test]
    fn lti_settings() {
        assert_eq!(
            key_of(&format!("{GOOD}[lti]\npublic_url = \"otr.example.org\"\n")),
            "lti.public_url"
        );
        assert_eq!(
            key_of(&format!("{GOOD}[lti.consumers]\ncanvas = \"\"\n")),
            "lti.consumers.canvas"
        );
        assert_eq!(
            key_of(&format!("{GOOD}[lti]\ncss_url = \"javascript:x\"\n")),
            "lti.css_url"
        );
        assert_eq!(
            key_of(&format!("{GOOD}[lti]\ntimestamp_window = 0\n")),
            "lti.timestamp_window"
        );
        assert_eq!(
            key_of(&format!("{GOOD}[lti]\ngrade_timeout = 0\n")),
            "lti.grade_timeout"
        );
        for bad in [
            "[]",
            "[\"canvas.example.edu\"]",
            "[\"https://lms.example.org/path\"]",
            "[\"https://lms.example.org; script-src *\"]",
        ] {
            assert_eq!(
                key_of(&format!("{GOOD}[lti]\nframe_ancestors = {bad}\n")),
                "lti.frame_ancestors",
                "{bad}"
            );
        }
        assert_eq!(
            key_of(&format!(
                "{GOOD}[lti]\npublic_url = \"http://127.0.0.1:9000\"\nport = 8000\n"
            )),
            "lti.public_url"
        );
        assert!(load(&format!(
            "{GOOD}[lti]\npublic_url = \"http://127.0.0.1:9000\"\nport = 9000\n"
        ))
        .is_ok());
        assert!(load(&format!(
            "{GOOD}[lti]\npublic_url = \"https://otr.example.org:8443/x\"\nport = 8000\n"
        ))
        .is_ok());
        let s = load(&format!(
            "{GOOD}[lti]\nframe_ancestors = [\"https://canvas.example.edu\", \"https://*.moodle.example.org:8443\"]\n"
        ))
        .unwrap();
        assert_eq!(s.lti.frame_ancestors.len(), 2);
    }
}
