//! The class at a glance for the instructor page: how far each learner got (one step of the
//! story both lessons tell: started → wrote to the bot → encrypted → verified → completed),
//! the funnel of the class, where most are right now, the mistakes each learner met, and the
//! CSV export. Pure: stages in, figures out.

use crate::lesson::{OmemoStage, Stage};

/// The steps of the exercise, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// Gave a Jabber ID; has not written to the bot.
    Started,
    /// Writes to the bot, in plain text.
    Wrote,
    /// The chat is encrypted (OTR or OMEMO), not verified.
    Encrypted,
    /// Verified the bot; has the completion code.
    Verified,
    /// Entered the code: finished.
    Completed,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 5] = [
        Step::Started,
        Step::Wrote,
        Step::Encrypted,
        Step::Verified,
        Step::Completed,
    ];

    /// The step's name, in English (translated on output).
    pub fn name(self) -> &'static str {
        match self {
            Step::Started => crate::tr!("Started"),
            Step::Wrote => crate::tr!("Wrote to the bot"),
            Step::Encrypted => crate::tr!("Encrypted"),
            Step::Verified => crate::tr!("Verified"),
            Step::Completed => crate::tr!("Completed"),
        }
    }
}

/// How far a learner at `stage` got; `None` for a session that ended before completing
/// (how far it got is not kept).
pub fn step_of(stage: Option<&Stage>) -> Option<Step> {
    Some(match stage {
        None | Some(Stage::Waiting(_)) => Step::Started,
        Some(Stage::Plaintext(_)) => Step::Wrote,
        Some(Stage::Encrypted(_) | Stage::Verifying(..)) => Step::Encrypted,
        Some(Stage::Verified(_)) => Step::Verified,
        Some(Stage::Completed(_)) => Step::Completed,
        Some(Stage::Ended(_)) => return None,
        Some(Stage::Omemo(s)) => match s {
            OmemoStage::Waiting(_) => Step::Started,
            OmemoStage::Plaintext(_) => Step::Wrote,
            OmemoStage::Unverified(_) => Step::Encrypted,
            OmemoStage::Verified(_) => Step::Verified,
            OmemoStage::Completed(_) => Step::Completed,
        },
    })
}

/// The class's figures.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Funnel {
    /// Learners who reached each step (or a later one), in [`Step::ALL`] order; the first is
    /// everyone who started, ended sessions included.
    pub reached: [usize; 5],
    /// Learners at each step right now (ended sessions are at none).
    pub now_at: [usize; 5],
    /// Sessions that ended before completing.
    pub ended: usize,
}

impl Funnel {
    /// The figures of the learners at `steps` (from [`step_of`]).
    pub fn of(steps: impl IntoIterator<Item = Option<Step>>) -> Funnel {
        let mut f = Funnel::default();
        for step in steps {
            f.reached[0] += 1;
            match step {
                None => f.ended += 1,
                Some(s) => {
                    f.now_at[s as usize] += 1;
                    for r in &mut f.reached[1..=s as usize] {
                        *r += 1;
                    }
                }
            }
        }
        f
    }

    /// The step before completion where most learners are right now (the earlier on a tie);
    /// `None` when nobody is on the way.
    pub fn stuck(&self) -> Option<Step> {
        let mut best: Option<Step> = None;
        for s in &Step::ALL[..4] {
            let n = self.now_at[*s as usize];
            if n > 0 && best.is_none_or(|b| n > self.now_at[b as usize]) {
                best = Some(*s);
            }
        }
        best
    }
}

/// Plain text after the bot asked for encryption (either lesson).
const REMINDED: (&str, &str) = crate::trn!(
    "wrote unencrypted after being asked {n} time",
    "wrote unencrypted after being asked {n} times"
);

/// The mistakes a learner met on the way, as (singular, plural, count) in English, counts
/// above zero only; the lesson keeps them until the bot is verified.
pub fn mistakes(stage: Option<&Stage>) -> Vec<(&'static str, &'static str, u64)> {
    let mut out = Vec::new();
    let mut add = |pair: (&'static str, &'static str), n: u32| {
        if n > 0 {
            out.push((pair.0, pair.1, u64::from(n)));
        }
    };
    match stage {
        Some(
            Stage::Waiting(p) | Stage::Plaintext(p) | Stage::Encrypted(p) | Stage::Verifying(p, ..),
        ) => {
            add(REMINDED, p.reminders);
            add(
                crate::trn!(
                    "{n} verification with a different secret",
                    "{n} verifications with a different secret"
                ),
                p.smp_failures,
            );
            add(
                crate::trn!(
                    "ended OTR during the exercise",
                    "ended OTR during the exercise"
                ),
                u32::from(p.interrupted),
            );
        }
        Some(Stage::Omemo(
            OmemoStage::Waiting(p) | OmemoStage::Plaintext(p) | OmemoStage::Unverified(p),
        )) => {
            add(REMINDED, p.reminders);
            add(
                crate::trn!(
                    "{n} message still encrypted for the impostor",
                    "{n} messages still encrypted for the impostor"
                ),
                p.impostor_trusted,
            );
            add(
                crate::trn!(
                    "{n} message for the impostor only",
                    "{n} messages for the impostor only"
                ),
                p.true_distrusted,
            );
            add(
                crate::trn!(
                    "typed a fingerprint into the chat {n} time",
                    "typed a fingerprint into the chat {n} times"
                ),
                p.fingerprint_typed,
            );
        }
        _ => {}
    }
    out
}

/// One field of a CSV record (RFC 4180): quoted when it holds a comma, quote or line break;
/// a field that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) is
/// made text with a leading `'` (OWASP's advice against CSV injection: a JID's local part may
/// start with `=`).
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// One CSV record, CRLF-terminated.
pub fn csv_record(fields: &[String]) -> String {
    let mut line = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::{EndReason, Finished, OmemoProgress, Progress};

    fn done() -> Finished {
        Finished {
            code: "K7QM-3XPA".into(),
            attempts_left: 3,
            encrypted: true,
            warned: false,
        }
    }

    #[test]
    fn the_funnel_counts_who_reached_each_step_and_where_they_are_now() {
        let p = Progress::default;
        let stages = [
            None,
            Some(Stage::Waiting(p())),
            Some(Stage::Plaintext(p())),
            Some(Stage::Plaintext(p())),
            Some(Stage::Plaintext(p())),
            Some(Stage::Encrypted(p())),
            Some(Stage::Omemo(OmemoStage::Unverified(
                OmemoProgress::default(),
            ))),
            Some(Stage::Verified(done())),
            Some(Stage::Completed(done())),
            Some(Stage::Omemo(OmemoStage::Completed(done()))),
            Some(Stage::Ended(EndReason::Expired)),
        ];
        let f = Funnel::of(stages.iter().map(|s| step_of(s.as_ref())));
        assert_eq!(f.reached, [11, 8, 5, 3, 2]);
        assert_eq!(f.now_at, [2, 3, 2, 1, 2]);
        assert_eq!(f.ended, 1);
        assert_eq!(f.stuck(), Some(Step::Wrote));
        assert_eq!(Funnel::of([Some(Step::Completed)]).stuck(), None);
        assert_eq!(Funnel::default().stuck(), None);
        let tie = Funnel::of([Some(Step::Started), Some(Step::Encrypted)]);
        assert_eq!(tie.stuck(), Some(Step::Started), "the earlier on a tie");
    }

    #[test]
    fn mistakes_are_named_with_their_counts() {
        let p = Progress {
            reminders: 2,
            smp_failures: 1,
            interrupted: true,
            ..Progress::default()
        };
        let m = mistakes(Some(&Stage::Encrypted(p)));
        assert_eq!(m.iter().map(|x| x.2).collect::<Vec<_>>(), [2, 1, 1]);
        let o = OmemoProgress {
            impostor_trusted: 3,
            fingerprint_typed: 1,
            ..OmemoProgress::default()
        };
        let m = mistakes(Some(&Stage::Omemo(OmemoStage::Unverified(o))));
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].2, 3);
        assert!(mistakes(Some(&Stage::Completed(done()))).is_empty());
        assert!(mistakes(None).is_empty());
    }

    #[test]
    fn csv_fields_are_quoted_and_never_run_as_formulas() {
        assert_eq!(csv_field("a@b.org"), "a@b.org");
        assert_eq!(
            csv_field("=HYPERLINK(\"x\")@b.org"),
            "\"'=HYPERLINK(\"\"x\"\")@b.org\""
        );
        assert_eq!(csv_field("+1"), "'+1");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_record(&["x".into(), "y,z".into()]), "x,\"y,z\"\r\n");
    }
}
