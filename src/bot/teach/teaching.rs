//! What the teacher needs from the settings.

use crate::settings::Settings;
use crate::store::Timeouts;
use std::time::Duration;

/// What the teacher needs from the settings.
#[derive(Debug, Clone)]
pub struct Teaching {
    /// The bot's bare JID (the OTR account name).
    pub bot_jid: String,
    /// Locale for learners without one.
    pub default_locale: String,
    /// A shared secret given to every learner (tests only).
    pub default_secret: Option<String>,
    /// Format strings: project_name, bot_alias, help_url.
    pub globals: Vec<(String, String)>,
    /// Inactivity timeouts.
    pub timeouts: Timeouts,
    /// `may_start_smp`.
    pub may_start_smp: bool,
    /// Typing delay per character, when `scheduled_say` is on.
    pub per_char: Option<Duration>,
    /// The lesson of sessions no launch chose one for (`lesson.protocol`).
    pub protocol: crate::lesson::Protocol,
}

impl Teaching {
    /// Teaching for `bot_jid` with the settings' defaults and these timeouts (tests, tools).
    pub fn with_defaults(bot_jid: &str, timeouts: Timeouts) -> Teaching {
        Teaching {
            bot_jid: bot_jid.to_owned(),
            default_locale: "en_GB".into(),
            default_secret: None,
            globals: Vec::new(),
            timeouts,
            may_start_smp: false,
            per_char: None,
            protocol: crate::lesson::Protocol::Otr,
        }
    }

    /// The teaching parts of the settings.
    pub fn from_settings(s: &Settings) -> Teaching {
        let f = &s.format;
        Teaching {
            bot_jid: s.account().jid.clone(),
            default_locale: s.lesson.default_locale.clone(),
            default_secret: s.lesson.default_secret.clone(),
            globals: vec![
                ("project_name".into(), f.project_name.clone()),
                ("bot_alias".into(), f.bot_alias.clone()),
                ("help_url".into(), f.help_url.clone()),
            ],
            timeouts: crate::bot::timeouts(s),
            may_start_smp: s.lesson.may_start_smp,
            per_char: s
                .lesson
                .scheduled_say
                .then(|| Duration::from_secs_f64(1.0 / f64::from(s.lesson.type_speed.max(1)))),
            protocol: s.lesson.protocol,
        }
    }
}
