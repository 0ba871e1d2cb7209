//! Gettext catalogues under `locales/<locale>/LC_MESSAGES/`.

/// Checks a locale name such as `en_GB`, `nl_NL` or `de`.
pub fn is_valid_locale(s: &str) -> bool {
    let (lang, country) = match s.split_once('_') {
        Some((l, c)) => (l, Some(c)),
        None => (s, None),
    };
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && country.is_none_or(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
}

#[cfg(test)]
mod tests {
    use super::is_valid_locale;

    #[test]
    fn locales() {
        for ok in ["en_GB", "nl_NL", "de", "fil_PH"] {
            assert!(is_valid_locale(ok), "{ok}");
        }
        for bad in ["", "EN", "en-GB", "en_gb", "english", "en_GBR", "../x"] {
            assert!(!is_valid_locale(bad), "{bad}");
        }
    }
}
