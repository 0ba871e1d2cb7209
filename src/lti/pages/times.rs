//! How long learners take: when each reached every step of the exercise (from the session's
//! start and the stage times the store records), the median time spent at each step, and a
//! duration as teachers read it.

use super::class::Step;

/// The step a stored stage name belongs to (the lesson's stable [`crate::lesson::Stage::name`]s);
/// `None` for an ended session or a name this version does not know.
pub fn step_named(name: &str) -> Option<Step> {
    Some(match name {
        "waiting" | "omemo_waiting" => Step::Started,
        "plaintext" | "omemo_plaintext" => Step::Wrote,
        "encrypted" | "verifying" | "omemo_unverified" => Step::Encrypted,
        "verified" | "omemo_verified" => Step::Verified,
        "completed" | "omemo_completed" => Step::Completed,
        _ => return None,
    })
}

/// When a learner first reached each step (Unix seconds), in [`Step::ALL`] order: the first is
/// the session's start; a step passed over (OTR switched on before writing) or entered again
/// later counts as reached when the next step was.
pub fn reached_at(created_at: u64, stage_times: &[(String, u64)]) -> [Option<u64>; 5] {
    let mut at = [None; 5];
    at[0] = Some(created_at);
    for (name, t) in stage_times {
        if let Some(s) = step_named(name) {
            let slot = &mut at[s as usize];
            *slot = Some(slot.map_or(*t, |old: u64| old.min(*t)));
        }
    }
    let mut later: Option<u64> = None;
    for slot in at.iter_mut().rev() {
        *slot = match (*slot, later) {
            (Some(t), Some(l)) => Some(t.min(l)),
            (None, l) => l,
            (t, None) => t,
        };
        later = *slot;
    }
    at
}

/// The median seconds learners spent at each step before the next, over those who moved on
/// (`None` where nobody did yet); the last step has no next.
pub fn median_per_step(learners: &[[Option<u64>; 5]]) -> [Option<u64>; 4] {
    std::array::from_fn(|i| {
        let mut spans: Vec<u64> = learners
            .iter()
            .filter_map(|at| Some(at[i + 1]?.saturating_sub(at[i]?)))
            .collect();
        spans.sort_unstable();
        match spans.len() {
            0 => None,
            n if n % 2 == 1 => Some(spans[n / 2]),
            n => Some((spans[n / 2 - 1] + spans[n / 2]) / 2),
        }
    })
}

/// A duration as `M:SS`, or `H:MM:SS` from an hour on (the same in every language).
pub fn duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// The same duration for a `<time datetime>` attribute (ISO 8601), for screen readers.
pub fn iso_duration(secs: u64) -> String {
    format!("PT{secs}S")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::{EndReason, Finished, OmemoProgress, OmemoStage, Progress, Stage};
    use crate::lti::pages::class::step_of;

    fn at(times: &[(&str, u64)]) -> [Option<u64>; 5] {
        let v: Vec<(String, u64)> = times.iter().map(|(n, t)| ((*n).into(), *t)).collect();
        reached_at(100, &v)
    }

    #[test]
    fn every_stage_name_belongs_to_the_step_its_stage_does() {
        let done = Finished {
            code: "K7QM-3XPA".into(),
            attempts_left: 3,
            encrypted: true,
            warned: false,
        };
        let (p, o) = (Progress::default(), OmemoProgress::default());
        let stages = [
            Stage::Waiting(p.clone()),
            Stage::Plaintext(p.clone()),
            Stage::Encrypted(p.clone()),
            Stage::Verified(done.clone()),
            Stage::Completed(done.clone()),
            Stage::Ended(EndReason::Expired),
            Stage::Omemo(OmemoStage::Waiting(o.clone())),
            Stage::Omemo(OmemoStage::Plaintext(o.clone())),
            Stage::Omemo(OmemoStage::Unverified(o)),
            Stage::Omemo(OmemoStage::Verified(done.clone())),
            Stage::Omemo(OmemoStage::Completed(done)),
        ];
        for s in &stages {
            assert_eq!(step_named(s.name()), step_of(Some(s)), "{}", s.name());
        }
        assert_eq!(step_named("verifying"), Some(Step::Encrypted));
        assert_eq!(step_named("no such stage"), None);
    }

    #[test]
    fn steps_are_reached_in_order_even_when_one_is_passed_over() {
        assert_eq!(at(&[]), [Some(100), None, None, None, None]);
        assert_eq!(
            at(&[("plaintext", 130), ("encrypted", 200), ("verified", 260)]),
            [Some(100), Some(130), Some(200), Some(260), None]
        );
        // OTR on before a word in plain text, then ended and plain text written.
        assert_eq!(
            at(&[("encrypted", 150), ("plaintext", 170), ("completed", 400)]),
            [Some(100), Some(150), Some(150), Some(400), Some(400)]
        );
        // An ended session keeps what it reached.
        assert_eq!(
            at(&[("omemo_plaintext", 110), ("ended", 500)]),
            [Some(100), Some(110), None, None, None]
        );
    }

    #[test]
    fn the_median_counts_those_who_moved_on() {
        let class = [
            at(&[("plaintext", 160), ("encrypted", 200)]),
            at(&[("plaintext", 120)]),
            at(&[("plaintext", 130), ("encrypted", 400), ("verified", 500)]),
            at(&[]),
        ];
        // At Started: 60, 20, 30 → 30; at Wrote: 40, 270 → 155; at Encrypted: 100.
        assert_eq!(
            median_per_step(&class),
            [Some(30), Some(155), Some(100), None]
        );
        assert_eq!(median_per_step(&[]), [None; 4]);
    }

    #[test]
    fn durations_read_as_clocks() {
        assert_eq!(duration(0), "0:00");
        assert_eq!(duration(65), "1:05");
        assert_eq!(duration(3599), "59:59");
        assert_eq!(duration(3600 * 26 + 61), "26:01:01");
        assert_eq!(iso_duration(61), "PT61S");
    }
}
