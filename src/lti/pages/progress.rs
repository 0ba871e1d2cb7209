//! Where a learner is in the exercise, shown on every learner page as a row of named steps
//! (the current one marked for screen readers with `aria-current="step"`).

use super::super::App;
use crate::lesson::Protocol;

/// A learner page's place in the exercise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Entering the Jabber ID.
    Jid,
    /// Adding the bot (and, for OMEMO, comparing its fingerprint).
    AddBot,
    /// Choosing the shared secret (OTR only).
    Secret,
    /// In the chat, before the bot gave a code.
    Chat,
    /// Entering the code the bot gave.
    Code,
    /// Finished.
    Done,
}

/// One step as the page shows it.
#[derive(Debug, serde::Serialize)]
pub struct Shown {
    /// The step's name, translated.
    pub name: String,
    /// `done`, `current` or `todo`.
    pub state: &'static str,
}

/// The steps of `protocol`'s exercise, in order, in English (translated on output).
fn steps(protocol: Protocol) -> &'static [(Place, &'static str)] {
    match protocol {
        Protocol::Otr => &[
            (Place::Jid, crate::tr!("Your Jabber ID")),
            (Place::AddBot, crate::tr!("Add the bot")),
            (Place::Secret, crate::tr!("Shared secret")),
            (Place::Chat, crate::tr!("Encrypt and verify in the chat")),
            (Place::Code, crate::tr!("Completion code")),
        ],
        Protocol::Omemo => &[
            (Place::Jid, crate::tr!("Your Jabber ID")),
            (Place::AddBot, crate::tr!("Add the bot")),
            (Place::Chat, crate::tr!("Trust only the true device")),
            (Place::Code, crate::tr!("Completion code")),
        ],
    }
}

/// The steps with their state for a page at `at`, in `locale`.
pub fn shown(app: &App, locale: &str, protocol: Protocol, at: Place) -> Vec<Shown> {
    let list = steps(protocol);
    let here = match at {
        Place::Done => list.len(),
        _ => list.iter().position(|(p, _)| *p == at).unwrap_or(0),
    };
    list.iter()
        .enumerate()
        .map(|(i, (_, name))| Shown {
            name: app.pages.text(locale, name),
            state: match i.cmp(&here) {
                std::cmp::Ordering::Less => "done",
                std::cmp::Ordering::Equal => "current",
                std::cmp::Ordering::Greater => "todo",
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_place_but_the_end_is_a_step_of_the_otr_lesson_and_omemo_has_no_secret() {
        let otr: Vec<Place> = steps(Protocol::Otr).iter().map(|s| s.0).collect();
        assert_eq!(
            otr,
            [
                Place::Jid,
                Place::AddBot,
                Place::Secret,
                Place::Chat,
                Place::Code
            ]
        );
        let omemo: Vec<Place> = steps(Protocol::Omemo).iter().map(|s| s.0).collect();
        assert!(!omemo.contains(&Place::Secret));
    }
}
