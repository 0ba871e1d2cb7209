//! What the bot says: message ids (English msgids) and their parameters; the application
//! renders them in the learner's locale.

/// The English text of a message: one msgid, or a singular/plural pair chosen by `{n}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    /// A plain msgid.
    One(&'static str),
    /// A msgid and its plural; the form is chosen by the `n` parameter.
    Plural(&'static str, &'static str),
}

/// A plural [`Text`] from a `trn!` pair.
const fn plural(pair: (&'static str, &'static str)) -> Text {
    Text::Plural(pair.0, pair.1)
}

macro_rules! messages {
    ($($(#[$doc:meta])* $name:ident => $text:expr,)*) => {
        /// Everything the bot says to a learner (and the page errors of the code check).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum Msg {
            $($(#[$doc])* $name,)*
        }

        impl Msg {
            /// Every message, for extraction checks and tests.
            pub const ALL: &'static [Msg] = &[$(Msg::$name,)*];

            /// The English text (msgid) of the message.
            pub fn text(self) -> Text {
                match self {
                    $(Msg::$name => $text,)*
                }
            }
        }
    };
}

messages! {
    /// Once the learner has added the bot: how to begin.
    Greeting => Text::One(tr!("Hello, I am {bot_alias} from {project_name}. Say hello to me to begin the exercise.")),
    /// The first plain-text message: this is not private.
    PlaintextHello => Text::One(tr!("Hello! Your message reached me as plain text: the servers between us, and anyone who can watch them, can read everything we write. Let's make this conversation private. Please start an Off-the-Record (OTR) conversation with me in your chat client.")),
    /// Plain text again: a reminder.
    PlaintextReminder => Text::One(tr!("We are still writing in plain text, so this conversation is not private yet. Please start OTR.")),
    /// How to start OTR in the common clients.
    OtrHints => Text::One(tr!("How to start OTR:\n- Pidgin: enable the \"Off-the-Record Messaging\" plugin (Tools > Plugins), then choose OTR > \"Start private conversation\" in this chat window.\n- Profanity: type /otr start\n- mcabber: type /otr start")),
    /// A pointer to the operator's help page.
    MoreHelp => Text::One(tr!("More help: {help_url}")),
    /// OTR went secure.
    OtrSecure => Text::One(tr!("Well done: our conversation is now encrypted with OTR. But it is not verified yet: you cannot be sure that you are really talking to me, and not to someone in between who pretends to be me.")),
    /// OTR was already secure when the lesson met it (the client started it by itself).
    OtrAutomatic => Text::One(tr!("Your chat client has already started OTR, so our conversation is encrypted. But it is not verified yet: you cannot be sure that you are really talking to me, and not to someone in between who pretends to be me.")),
    /// Starting OTR failed (an AKE message did not verify); the learner's client may retry.
    OtrFailed => Text::One(tr!("Starting our private conversation failed: a message of the OTR handshake between your chat client and me did not check out, so nothing is encrypted yet. This happens now and then. Your chat client may already be trying again; if not, please start OTR again.")),
    /// OTR was refreshed while already secure.
    OtrStillSecure => Text::One(tr!("Our conversation is still encrypted with OTR.")),
    /// How to authenticate the bot with the shared secret (SMP).
    AskSmp => Text::One(tr!("To verify me, authenticate me with the shared secret you chose on the course page:\n- Pidgin: OTR > \"Authenticate buddy\", then \"Shared secret\"\n- Profanity: type /otr secret \"your secret\" (in quotes, or a secret with spaces is refused)\n- mcabber: type /otr smpq . \"your secret\" (the dot stands for this chat)\nType the secret exactly as you chose it, and never in this chat.")),
    /// No shared secret yet: set one on the page first.
    AskSecretFirst => Text::One(tr!("To verify me, we need a secret that only you and I know. Please choose a shared secret on the course page first; I will tell you here when I have received it.")),
    /// The bot starts SMP itself (`may_start_smp`).
    BotStartsSmp => Text::One(tr!("I have started the authentication. Your chat client will ask you for the shared secret: type the one you chose on the course page, exactly as you chose it.")),
    /// After a failure or an abort, with `may_start_smp`.
    BotWillRetry => Text::One(tr!("Send me any message when you are ready, and I will start the authentication again.")),
    /// The page sent a good shared secret.
    SecretStored => Text::One(tr!("Thank you, I have received the shared secret you chose on the course page. Never type it into this chat.")),
    /// A new secret arrived while SMP runs: it applies to the next attempt.
    SecretStoredNextTime => Text::One(tr!("I have received your new shared secret. It will be used from the next authentication on.")),
    /// The page sent a weak secret; `{reason}` says why.
    SecretRefused => Text::One(tr!("The shared secret you chose on the course page was refused: {reason} Please choose another one.")),
    /// The learner started SMP but there is no secret to answer with.
    SmpNoSecret => Text::One(tr!("I cannot answer your authentication yet, because you have not chosen a shared secret on the course page. Please choose one there first, then start the authentication again.")),
    /// The learner used SMP with a question.
    SmpQuestion => Text::One(tr!("You asked me a question for the authentication. A question is useful when you did not agree on a secret beforehand: its answer must be something that only the two of you can know. We did agree on a shared secret, so I will answer with that.")),
    /// SMP in progress: finish it first.
    SmpInProgress => Text::One(tr!("The authentication is still in progress. Please finish it in your chat client.")),
    /// SMP failed: the secrets differ.
    SmpFailed => Text::One(tr!("The authentication failed: the secrets we entered do not match. Secrets are case-sensitive, and every space counts. Please try again, or choose a new secret on the course page if you are not sure what you chose.")),
    /// SMP was aborted.
    SmpAborted => Text::One(tr!("The authentication was cancelled before it finished. This happens when a window is closed or one side stops. Please start it again.")),
    /// SMP succeeded: the completion code.
    SmpSucceeded => Text::One(tr!("The authentication succeeded: you have verified that you are really talking to me. Congratulations, you have completed the exercise! Your completion code is {code}. Enter it on the course page.")),
    /// The learner typed the shared secret into the chat.
    SecretInChat => Text::One(tr!("Careful! You have just typed our shared secret into this chat. A secret that proves who is on the other end must never travel over the very channel you are checking: anyone in between could now use it. I have thrown that secret away. Please choose a new one on the course page.")),
    /// The same mistake after the exercise was completed.
    SecretInChatDone => Text::One(tr!("Careful! You have just typed our shared secret into this chat. A secret that proves who is on the other end must never travel over the channel you are checking. You have already finished, so no harm is done here, but remember it for your real conversations.")),
    /// A plain-text message while OTR is secure.
    UnencryptedWhileOtr => Text::One(tr!("Your last message reached me unencrypted, although we had a private conversation. Please make sure OTR is on before you write.")),
    /// OTR ended mid-lesson.
    OtrEnded => Text::One(tr!("Our private conversation has ended, so our messages are plain text again. Please start OTR again to carry on.")),
    /// OTR ended after SMP succeeded.
    OtrEndedDone => Text::One(tr!("Our private conversation has ended. You have already finished the chat part of the exercise.")),
    /// A message after SMP succeeded, in private: the code again.
    DoneWithCode => Text::One(tr!("You have already completed the exercise. Your completion code is {code}: enter it on the course page.")),
    /// A message after SMP succeeded, in plain text: no code.
    DoneEnterCode => Text::One(tr!("You have already completed the exercise. Enter your completion code on the course page.")),
    /// A message after the grade was sent.
    Completed => Text::One(tr!("You have completed the exercise and your result has been sent to your course. Well done, and keep your conversations private!")),
    /// The code was accepted (page and chat).
    CodeAccepted => Text::One(tr!("That is the right code. Your result has been sent to your course.")),
    /// The code was wrong (page).
    CodeRefused => plural(trn!("That code is not right. You have {n} attempt left.", "That code is not right. You have {n} attempts left.")),
    /// No attempts left (page and chat).
    CodeAttemptsExhausted => Text::One(tr!("That code is not right, and it was the last attempt for it: the code no longer works. To get a new code, choose a new shared secret on the course page and verify me again with it.")),
    /// Inactivity warning.
    Warning => plural(trn!("Are you still there? This session ends in {n} minute unless you write to me.", "Are you still there? This session ends in {n} minutes unless you write to me.")),
    /// The session expired.
    Expired => Text::One(tr!("This session has ended because nothing happened for a while. To start again, open the exercise from your course again.")),
    /// The bot's status text, shown to a learner whose session expired.
    ExpiredStatus => Text::One(tr!("Session ended. To start again, open the exercise from your course again.")),
    /// The OMEMO lesson: the first plain-text message.
    OmemoPlaintextHello => Text::One(tr!("Hello! Your message reached me as plain text: the servers between us, and anyone who can watch them, can read everything we write. Let's make this conversation private. Please switch on OMEMO encryption for our chat in your client.")),
    /// The OMEMO lesson: plain text again.
    OmemoPlaintextReminder => Text::One(tr!("We are still writing in plain text, so this conversation is not private yet. Please switch on OMEMO.")),
    /// How to switch OMEMO on in the common clients.
    OmemoHints => Text::One(tr!("How to switch on OMEMO:\n- Conversations: tap the lock icon at the top of this chat and choose OMEMO.\n- Gajim: click the lock icon next to the message field and choose OMEMO.\n- Dino: click the lock icon in the message field and choose OMEMO.\n- Monal: tap the lock icon at the top of this chat.\n- Profanity: type /omemo gen once (it makes your keys), then /omemo start")),
    /// The first OMEMO message, also for the impostor: encrypted, not verified.
    OmemoUnverified => Text::One(tr!("Well done: your message was encrypted with OMEMO. But it is not verified yet. Your client encrypted it for two devices that claim to be mine, and only one of them is really mine: whoever holds the other one can read along, and you cannot yet know which is which.")),
    /// How to verify the bot's true device and refuse the other.
    OmemoVerifyHints => Text::One(tr!("To verify me, compare the fingerprints of my devices in your client with the fingerprint on the course page. Trust the device whose fingerprint matches, and distrust the other one:\n- Conversations: scan the QR code on the course page, then open my contact details and switch off the key that does not match (the scan alone leaves it on).\n- Gajim: click the encryption button next to the message field (or open my contact details, then Encryption (OMEMO)): set the matching key to Verified and the other to Untrusted, not Delete (a deleted key comes back).\n- Dino: open Conversation details, then OMEMO Key Management: click the key that does not match and choose Reject key.\n- Monal: open my contact details, then Encryption Keys: switch off the key that does not match.\n- Profanity: type /omemo fingerprint in this chat, then /omemo trust followed by the matching fingerprint, and /omemo untrust followed by the other one.\nThen write to me again.")),
    /// A message still encrypted for the impostor as well.
    OmemoImpostorTrusted => Text::One(tr!("Your last message was encrypted for my real device, but also for a device that is not mine: its fingerprint is not the one on the course page. Whoever holds that device can read what you write. Distrust that device in your client, then write to me again.")),
    /// A message for the impostor only: the true device distrusted.
    OmemoTrueDistrusted => Text::One(tr!("Your last message was encrypted only for a device that is not mine, and not for my real device. I cannot read it, but whoever holds that other device can. You trusted the wrong fingerprint: compare again with the course page, trust the device whose fingerprint matches, and distrust the other.")),
    /// A message for the true device only: verified; the completion code.
    OmemoVerified => Text::One(tr!("Your message was encrypted for my real device only: you compared my fingerprint with the one on the course page and refused the device that only pretended to be me. Congratulations, you have completed the exercise! Your completion code is {code}. Enter it on the course page.")),
    /// The learner typed a fingerprint into the chat.
    OmemoFingerprintInChat => Text::One(tr!("You typed a fingerprint into this chat. That proves nothing: anyone in between could repeat a fingerprint they have seen. Verifying happens in your client: compare my fingerprint there with the one on the course page, and mark the device as trusted or not trusted there.")),
    /// The learner's account has several OMEMO devices.
    OmemoSeveralDevices => plural(trn!("I can see {n} OMEMO device on your account. Each of your devices keeps its own list of trusted keys: verify me on every device you use, and check that every device listed for your account is really yours.", "I can see {n} OMEMO devices on your account. Each of your devices keeps its own list of trusted keys: verify me on every device you use, and check that every device listed for your account is really yours.")),
    /// Plain text while OMEMO is on between the learner and the bot.
    OmemoPlainWhileOn => Text::One(tr!("Your last message reached me as plain text, although our chat can be encrypted with OMEMO. Please make sure OMEMO is switched on before you write.")),
    /// The plain-text body of the bot's OMEMO messages, for clients that cannot decrypt them.
    OmemoFallbackBody => Text::One(tr!("I sent you an OMEMO encrypted message, but your client does not seem to support OMEMO. Please switch on OMEMO, or use a client that has it.")),
    /// A message for the true device that it could not decrypt (a one-time prekey another
    /// learner's client had just used, a broken session): the bot starts a new session.
    OmemoUnreadable => Text::One(tr!("I could not decrypt your last message: your client used a key of mine that was no longer valid. I have started a new encrypted session with your device. Please send your message again.")),
    /// No attempts left for the OMEMO lesson's code (page and chat).
    OmemoCodeAttemptsExhausted => Text::One(tr!("That code is not right, and it was the last attempt for it: the code no longer works. To get a new code, write to me again, encrypted for my real device only.")),
    /// A teacher started the learner's exercise again (either lesson).
    ResetByTeacher => Text::One(tr!("Your teacher has started your exercise again: what you did so far and your completion code are gone. If your chat client says that our private conversation has ended, end it on your side too. Then follow the course page and write to me to begin anew.")),
    /// The bot's operator ended the learner's session (either lesson).
    EndedByOperator => Text::One(tr!("This session has been ended by the people who run this bot. If your chat client says that our private conversation has ended, end it on your side too. To start again, open the exercise from your course again.")),
}

/// A parameter value of a message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Param {
    /// Inserted as it is (codes, numbers).
    Plain(String),
    /// An English msgid, translated and formatted with the same parameters first.
    Text(String),
    /// A number; the parameter named `n` also chooses the plural form.
    Count(u64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_has_distinct_nonempty_text() {
        let mut seen = std::collections::HashSet::new();
        for m in Msg::ALL {
            let id = match m.text() {
                Text::One(s) => s,
                Text::Plural(s, p) => {
                    assert!(p.contains("{n}") && s.contains("{n}"), "{m:?}");
                    s
                }
            };
            assert!(!id.trim().is_empty());
            assert!(seen.insert(id), "duplicate msgid {id}");
        }
    }
}
