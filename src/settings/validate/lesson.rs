//! `[lesson]` and `[whitelist]`: locales, timeouts in order, typing speed, whitelisted JIDs.

use super::bad;
use crate::i18n::is_valid_locale;
use crate::settings::{SettingError, Settings};
use crate::xmpp::jid::parse_bare;

/// A locale name like `en_GB`, or an error naming `key`.
fn locale_ok(key: &str, locale: &str) -> Result<(), SettingError> {
    if is_valid_locale(locale) {
        Ok(())
    } else {
        Err(bad(key, format!("{locale:?} is not a locale like en_GB")))
    }
}

/// `[lesson]`: the default locale and secret, timeouts in order, a sane typing speed.
pub(super) fn lesson(s: &Settings) -> Result<(), SettingError> {
    let l = &s.lesson;
    locale_ok("lesson.default_locale", &l.default_locale)?;
    if l.default_secret.as_deref().is_some_and(str::is_empty) {
        return Err(bad("lesson.default_secret", "must not be empty when given"));
    }
    if l.session_timeout == 0 {
        return Err(bad("lesson.session_timeout", "must be at least 1 second"));
    }
    if l.warning_timeout >= l.session_timeout {
        return Err(bad(
            "lesson.warning_timeout",
            format!(
                "must be less than lesson.session_timeout ({})",
                l.session_timeout
            ),
        ));
    }
    if l.timeout_check_interval == 0 || l.timeout_check_interval > l.warning_timeout.max(1) {
        return Err(bad(
            "lesson.timeout_check_interval",
            "must be at least 1 second and at most lesson.warning_timeout",
        ));
    }
    if !(1..=1000).contains(&l.type_speed) {
        return Err(bad(
            "lesson.type_speed",
            "must be between 1 and 1000 characters per second",
        ));
    }
    Ok(())
}

/// `[whitelist]`: bare JIDs with a locale each.
pub(super) fn whitelist(s: &Settings) -> Result<(), SettingError> {
    for (jid, locale) in &s.whitelist {
        let key = format!("whitelist.\"{jid}\"");
        parse_bare(jid).map_err(|e| bad(&key, e))?;
        locale_ok(&key, locale)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::settings::testing::*;

    #[test]
    fn timeouts_ordered() {
        let t = format!("{GOOD}[lesson]\nwarning_timeout = 1800\nsession_timeout = 1800\n");
        assert_eq!(key_of(&t), "lesson.warning_timeout");
        let t = format!("{GOOD}[lesson]\ntimeout_check_interval = 0\n");
        assert_eq!(key_of(&t), "lesson.timeout_check_interval");
        let t = format!("{GOOD}[lesson]\ntype_speed = 0\n");
        assert_eq!(key_of(&t), "lesson.type_speed");
    }

    #[test]
    fn locales_checked() {
        assert_eq!(
            key_of(&format!("{GOOD}[lesson]\ndefault_locale = \"english\"\n")),
            "lesson.default_locale"
        );
        let t = format!("{GOOD}[whitelist]\n\"a@b.org\" = \"xx-YY\"\n");
        assert_eq!(key_of(&t), "whitelist.\"a@b.org\"");
        let t = format!("{GOOD}[whitelist]\n\"nobody\" = \"en_GB\"\n");
        assert_eq!(key_of(&t), "whitelist.\"nobody\"");
    }
}
