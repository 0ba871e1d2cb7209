//! Secrets from the environment: XMPP passwords and LTI consumer secrets, by variable name.

use super::Settings;

/// The environment variable name for a secret: upper case, non-alphanumerics as `_`.
pub fn env_name(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| {
            p.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("_")
}

/// The prefix of the variables that carry LTI consumer secrets.
const LTI_SECRET_VAR: &str = "OTRBOT_LTI_SECRET_";

/// Puts the secrets the environment holds into `s`; `names` are its variables' names.
pub(super) fn apply_env(s: &mut Settings, env: &dyn Fn(&str) -> Option<String>, names: &[String]) {
    for (name, acct) in s.xmpp.accounts.iter_mut() {
        if let Some(p) = env(&env_name(&["OTRBOT_XMPP", name, "PASSWORD"])) {
            acct.password = Some(p);
        }
    }
    for (key, secret) in s.lti.consumers.iter_mut() {
        if let Some(v) = env(&env_name(&["OTRBOT_LTI_SECRET", key])) {
            *secret = v;
        }
    }
    let listed: Vec<String> = s
        .lti
        .consumers
        .keys()
        .map(|k| env_name(&["OTRBOT_LTI_SECRET", k]))
        .collect();
    for name in names {
        let Some(suffix) = name.strip_prefix(LTI_SECRET_VAR) else {
            continue;
        };
        if suffix.is_empty() || listed.contains(name) {
            continue;
        }
        if let Some(v) = env(name) {
            s.lti.consumers.insert(suffix.to_ascii_lowercase(), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::settings::from_toml;
    use crate::settings::testing::*;
    use std::path::Path;

    #[test]
    fn missing_password_names_key_and_env() {
        let t = GOOD.replace("password = \"pw\"\n", "");
        let e = load(&t).unwrap_err();
        assert_eq!(e.key, "xmpp.accounts.bot.password");
        assert!(
            e.problem.contains("OTRBOT_XMPP_BOT_PASSWORD"),
            "{}",
            e.problem
        );
    }

    #[test]
    fn secrets_from_environment() {
        let t =
            GOOD.replace("password = \"pw\"\n", "") + "[lti.consumers]\n\"moodle-1\" = \"short\"\n";
        let s = from_toml(&t, Path::new(""), &|k| match k {
            "OTRBOT_XMPP_BOT_PASSWORD" => Some("frometc".into()),
            "OTRBOT_LTI_SECRET_MOODLE_1" => Some("a long enough secret".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.account().password.as_deref(), Some("frometc"));
        assert_eq!(s.lti.consumers["moodle-1"], "a long enough secret");
    }

    #[test]
    fn a_consumer_from_the_environment_alone() {
        let names = [
            "OTRBOT_LTI_SECRET_CANVAS".to_owned(),
            "OTRBOT_LTI_SECRET_MOODLE_1".to_owned(),
            "OTRBOT_LTI_SECRET_".to_owned(),
            "PATH".to_owned(),
        ];
        let t = GOOD.to_owned() + "[lti.consumers]\n\"moodle-1\" = \"short\"\n";
        let env = |k: &str| match k {
            "OTRBOT_LTI_SECRET_CANVAS" => Some("canvas secret 123".into()),
            "OTRBOT_LTI_SECRET_MOODLE_1" => Some("a long enough secret".into()),
            "OTRBOT_LTI_SECRET_" => Some("nobody's".into()),
            _ => None,
        };
        let s = crate::settings::from_toml_env(&t, Path::new(""), &env, &names).unwrap();
        assert_eq!(s.lti.consumers.len(), 2, "{:?}", s.lti.consumers.keys());
        assert_eq!(s.lti.consumers["canvas"], "canvas secret 123");
        assert_eq!(s.lti.consumers["moodle-1"], "a long enough secret");
        // A short secret from the environment alone is named by its key too.
        let short = |k: &str| (k == "OTRBOT_LTI_SECRET_CANVAS").then(|| "short".to_owned());
        let e = crate::settings::from_toml_env(GOOD, Path::new(""), &short, &names).unwrap_err();
        assert_eq!(e.key, "lti.consumers.canvas");
        assert!(
            e.problem.contains("OTRBOT_LTI_SECRET_CANVAS"),
            "{}",
            e.problem
        );
    }
}
