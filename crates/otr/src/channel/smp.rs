//! SMP and the extra symmetric key on a channel: starting, answering, aborting, and the
//! TLVs 2 to 8 received in data messages.

use super::{Channel, Event, Output, Problem};
use crate::account::Account;
use crate::error::OtrError;
use crate::keys::Fingerprint;
use crate::smp::{self, SmpEvent, SmpOutcome, SmpStep};
use crate::tlv::{self, Tlv};

/// What the SMP secret is made of besides the answer: both fingerprints and the ssid.
struct SecretParts {
    ours: Fingerprint,
    theirs: Fingerprint,
    ssid: [u8; 8],
}

impl Channel {
    fn secret_parts(&self, account: &Account, instance: u32) -> Option<SecretParts> {
        let secure = self.sessions.get(&instance)?.secure()?;
        Some(SecretParts {
            ours: account.key.fingerprint(),
            theirs: secure.fingerprint,
            ssid: secure.ssid,
        })
    }

    /// Starts SMP with `answer` (and an optional question, TLV 7) in the current session, or
    /// answers the peer's pending request with it (the question is then ignored).
    pub fn smp_verify(
        &mut self,
        account: &Account,
        answer: &[u8],
        question: Option<&str>,
        now: u64,
    ) -> Output {
        let instance = self.current_instance();
        self.smp_verify_in(account, instance, answer, question, now)
    }

    /// [`Channel::smp_verify`] in the session with the given peer instance.
    pub fn smp_verify_in(
        &mut self,
        account: &Account,
        instance: u32,
        answer: &[u8],
        question: Option<&str>,
        now: u64,
    ) -> Output {
        let Some(parts) = self.secret_parts(account, instance) else {
            return Output::of(Event::Problem(Problem::NotEncrypted));
        };
        let Some(session) = self.sessions.get_mut(&instance) else {
            return Output::of(Event::Problem(Problem::NotEncrypted));
        };
        let (ours, theirs) = (&parts.ours.0, &parts.theirs.0);
        let step = if session.smp.awaiting_secret() {
            // The peer started: it is the initiator.
            session
                .smp
                .respond(smp::secret(theirs, ours, &parts.ssid, answer))
        } else {
            session
                .smp
                .start(smp::secret(ours, theirs, &parts.ssid, answer), question)
        };
        match step {
            Ok(step) => self.apply_smp_step(account, instance, step, now),
            Err(e) => Output::of(Event::Problem(Problem::Smp(e))),
        }
    }

    /// Aborts the SMP exchange of the current session (sends TLV 6 if one is under way).
    pub fn smp_abort(&mut self, account: &Account, now: u64) -> Output {
        let instance = self.current_instance();
        let Some(session) = self.sessions.get_mut(&instance) else {
            return Output::default();
        };
        if !session.is_encrypted() || !session.smp.in_progress() {
            session.smp.reset();
            return Output::default();
        }
        let step = session.smp.abort();
        let mut out = self.send_tlvs(account, instance, &to_otr(&step.send), now);
        out.report(Event::Smp {
            instance,
            event: SmpEvent::Aborted,
            percent: 0,
        });
        out
    }

    /// Sends an SMP step's TLVs, reports its event, and trusts the fingerprint on success.
    fn apply_smp_step(
        &mut self,
        account: &Account,
        instance: u32,
        step: SmpStep,
        now: u64,
    ) -> Output {
        let mut out = Output::default();
        if !step.send.is_empty() {
            out.append(self.send_tlvs(account, instance, &to_otr(&step.send), now));
        }
        if let Some(event) = step.event {
            if event.outcome() == Some(SmpOutcome::Verified) {
                let fp = self
                    .sessions
                    .get(&instance)
                    .and_then(|s| s.secure())
                    .map(|s| s.fingerprint);
                if let Some(fp) = fp {
                    self.trust(fp, true);
                }
            }
            let percent = event.percent();
            out.report(Event::Smp {
                instance,
                event,
                percent,
            });
        }
        out
    }

    /// Handles the TLVs of a received data message (SMP 2–7, symmetric key 8, others).
    pub(super) fn handle_tlvs(
        &mut self,
        account: &Account,
        instance: u32,
        tlvs: Vec<Tlv>,
        extra_key: [u8; 32],
        now: u64,
        out: &mut Output,
    ) {
        let mut other = Vec::new();
        for t in tlvs {
            if tlv::SMP_RANGE.contains(&t.kind) {
                let Some(session) = self.sessions.get_mut(&instance) else {
                    continue;
                };
                let step = session.smp.on_tlv(&smp::Tlv {
                    typ: t.kind,
                    value: t.value,
                });
                out.append(self.apply_smp_step(account, instance, step, now));
            } else if t.kind == tlv::SYMKEY {
                if t.value.len() < 4 {
                    out.report(Event::Problem(Problem::Malformed(OtrError::Malformed(
                        "symmetric key TLV shorter than 4 bytes",
                    ))));
                    continue;
                }
                let (use_, use_data) = t.value.split_at(4);
                out.report(Event::Symkey {
                    instance,
                    key: extra_key,
                    use_: u32::from_be_bytes([use_[0], use_[1], use_[2], use_[3]]),
                    use_data: use_data.to_vec(),
                });
            } else {
                other.push(t);
            }
        }
        if !other.is_empty() {
            out.report(Event::Tlvs {
                instance,
                tlvs: other,
            });
        }
    }

    /// Agrees an extra symmetric key with the peer of the current session (libotr's
    /// otrl_message_symkey): sends TLV 8 with `use_` and `use_data` and returns the key.
    pub fn create_symkey(
        &mut self,
        account: &Account,
        use_: u32,
        use_data: &[u8],
        now: u64,
    ) -> Result<([u8; 32], Output), Problem> {
        let instance = self.current_instance();
        let session = self
            .sessions
            .get_mut(&instance)
            .filter(|s| s.is_encrypted())
            .ok_or(Problem::NotEncrypted)?;
        let key = session.sending_extra_key().map_err(Problem::SendFailed)?;
        let mut value = use_.to_be_bytes().to_vec();
        value.extend_from_slice(use_data);
        let t = Tlv {
            kind: tlv::SYMKEY,
            value,
        };
        let out = self.send_tlvs(account, instance, &[t], now);
        let problem = out.events.iter().find(|e| matches!(e, Event::Problem(_)));
        if let Some(Event::Problem(p)) = problem {
            return Err(p.clone());
        }
        Ok((key, out))
    }
}

fn to_otr(tlvs: &[smp::Tlv]) -> Vec<Tlv> {
    tlvs.iter()
        .map(|t| Tlv {
            kind: t.typ,
            value: t.value.clone(),
        })
        .collect()
}
