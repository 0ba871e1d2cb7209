//! The shared secret (checked for strength) and the completion code (`XXXX-XXXX`).

/// The fewest characters a shared secret may have.
pub const MIN_SECRET_CHARS: usize = 6;
/// The most characters a shared secret may have.
pub const MAX_SECRET_CHARS: usize = 64;

/// Why a shared secret was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SecretWeakness {
    /// Fewer than `min` characters.
    TooShort {
        /// The minimum length.
        min: usize,
    },
    /// More than `max` characters.
    TooLong {
        /// The maximum length.
        max: usize,
    },
    /// Nothing but digits.
    OnlyDigits,
    /// A well-known password or word.
    Common,
    /// The same one or two characters over and over.
    RepeatedCharacters,
    /// A run such as `abcdef` or `123456`.
    Sequence,
    /// Spaces at the start or end, which chat clients may drop.
    SurroundingSpace,
    /// Control characters (tabs, new lines) that cannot be typed in the SMP dialogue.
    ControlCharacters,
}

impl SecretWeakness {
    /// The English explanation, a msgid with `{min}`/`{max}` placeholders.
    pub fn msgid(&self) -> &'static str {
        match self {
            SecretWeakness::TooShort { .. } => {
                tr!("This secret is too short: use at least {min} characters.")
            }
            SecretWeakness::TooLong { .. } => {
                tr!("This secret is too long: use at most {max} characters.")
            }
            SecretWeakness::OnlyDigits => {
                tr!("This secret is only digits, which is easy to guess: add some letters or words.")
            }
            SecretWeakness::Common => {
                tr!("This secret is a well-known password that anyone could guess: choose something personal.")
            }
            SecretWeakness::RepeatedCharacters => {
                tr!("This secret repeats the same characters: choose something harder to guess.")
            }
            SecretWeakness::Sequence => {
                tr!("This secret is a simple sequence such as abcdef or 123456: choose something harder to guess.")
            }
            SecretWeakness::SurroundingSpace => {
                tr!("This secret starts or ends with a space, which is easy to get wrong: remove it.")
            }
            SecretWeakness::ControlCharacters => {
                tr!("This secret contains tabs or line breaks, which cannot be typed in the chat client: use ordinary characters.")
            }
        }
    }

    /// The values for the placeholders of [`Self::msgid`].
    pub fn params(&self) -> Vec<(&'static str, String)> {
        match self {
            SecretWeakness::TooShort { min } => vec![("min", min.to_string())],
            SecretWeakness::TooLong { max } => vec![("max", max.to_string())],
            _ => Vec::new(),
        }
    }
}

/// Passwords and words anyone would try first (compared case-insensitively).
const COMMON: &[&str] = &[
    "password",
    "passw0rd",
    "wachtwoord",
    "passwort",
    "geheim",
    "secret",
    "qwerty",
    "qwertz",
    "azerty",
    "letmein",
    "welcome",
    "welkom",
    "willkommen",
    "iloveyou",
    "monkey",
    "dragon",
    "football",
    "baseball",
    "sunshine",
    "princess",
    "admin",
    "login",
    "master",
    "shadow",
    "trustno1",
    "changeme",
    "otrbot",
    "hallo",
    "hello",
    "test",
    "abc123",
];

/// Checks a shared secret's strength for SMP.
pub fn check_secret(secret: &str) -> Result<(), SecretWeakness> {
    let chars: Vec<char> = secret.chars().collect();
    if chars.iter().any(|c| c.is_control()) {
        return Err(SecretWeakness::ControlCharacters);
    }
    if secret.trim() != secret {
        return Err(SecretWeakness::SurroundingSpace);
    }
    if chars.len() < MIN_SECRET_CHARS {
        return Err(SecretWeakness::TooShort {
            min: MIN_SECRET_CHARS,
        });
    }
    if chars.len() > MAX_SECRET_CHARS {
        return Err(SecretWeakness::TooLong {
            max: MAX_SECRET_CHARS,
        });
    }
    if chars.iter().all(|c| c.is_ascii_digit()) {
        return Err(SecretWeakness::OnlyDigits);
    }
    let lower = secret.to_lowercase();
    let stripped = lower.trim_end_matches(|c: char| c.is_ascii_digit() || c == '!');
    if COMMON.contains(&lower.as_str()) || COMMON.contains(&stripped) {
        return Err(SecretWeakness::Common);
    }
    let mut distinct: Vec<char> = lower.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() <= 2 {
        return Err(SecretWeakness::RepeatedCharacters);
    }
    let codes: Vec<i64> = lower.chars().map(|c| i64::from(u32::from(c))).collect();
    let step = codes[1] - codes[0];
    if step.abs() == 1 && codes.windows(2).all(|w| w[1] - w[0] == step) {
        return Err(SecretWeakness::Sequence);
    }
    Ok(())
}

/// Whether a chat message gives away the shared secret (case and spacing ignored).
pub fn reveals_secret(message: &str, secret: &str) -> bool {
    let squash = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let secret = squash(secret);
    !secret.is_empty() && squash(message).contains(&secret)
}

/// The alphabet of completion codes: Crockford's base 32 (no I, L, O or U).
pub const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// How many random bytes a completion code takes.
pub const CODE_BYTES: usize = 8;

/// A completion code `XXXX-XXXX` made from 8 random bytes (40 bits of entropy).
pub fn completion_code(random: [u8; CODE_BYTES]) -> String {
    let mut out = String::with_capacity(9);
    for (i, b) in random.iter().enumerate() {
        if i == 4 {
            out.push('-');
        }
        out.push(char::from(CODE_ALPHABET[usize::from(b % 32)]));
    }
    out
}

/// What a learner typed, made comparable with a code: upper case, no spaces, one dash,
/// and the look-alikes O → 0, I and L → 1.
pub fn normalise_code(input: &str) -> String {
    let s: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .map(|c| match c {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    if s.chars().count() == 8 && s.is_ascii() {
        format!("{}-{}", &s[..4], &s[4..])
    } else {
        s
    }
}

/// Compares a typed code with the issued one without leaking where they differ.
pub fn code_matches(typed: &str, issued: &str) -> bool {
    use subtle::ConstantTimeEq;
    let a = normalise_code(typed);
    let b = normalise_code(issued);
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_secrets_are_refused_with_a_reason() {
        use SecretWeakness::*;
        for (s, why) in [
            ("abc", TooShort { min: 6 }),
            ("", TooShort { min: 6 }),
            ("é中ab", TooShort { min: 6 }),
            (&"x1".repeat(40)[..], TooLong { max: 64 }),
            ("12345678", OnlyDigits),
            ("Password", Common),
            ("password123", Common),
            ("Wachtwoord!", Common),
            ("aaaaaaaa", RepeatedCharacters),
            ("ababab", RepeatedCharacters),
            ("abcdefg", Sequence),
            ("fedcba", Sequence),
            (" purple cow", SurroundingSpace),
            ("purple\tcow", ControlCharacters),
        ] {
            assert_eq!(check_secret(s), Err(why), "{s:?}");
            assert!(!why.msgid().is_empty());
        }
        assert_eq!(TooShort { min: 6 }.params(), [("min", "6".to_string())]);
    }

    #[test]
    fn good_secrets_pass() {
        for s in [
            "purple cow",
            "Mijn kat heet Tijger",
            "Straße42",
            "correct horse",
            "x9k2mq",
        ] {
            assert_eq!(check_secret(s), Ok(()), "{s}");
        }
    }

    #[test]
    fn secret_in_chat_is_noticed() {
        assert!(reveals_secret("is it Purple  Cow?", "purple cow"));
        assert!(reveals_secret("purplecow", "purple cow"));
        assert!(!reveals_secret("purple", "purple cow"));
        assert!(!reveals_secret("anything", ""));
    }

    #[test]
    fn completion_codes() {
        let c = completion_code([0, 1, 2, 3, 31, 32, 255, 100]);
        assert_eq!(c, "0123-Z0Z4");
        assert!(!code_matches("oi23 zozA", "0123-Z0Z4"));
        assert!(code_matches("oi23 zoz4", "0123-Z0Z4"));
        let c = completion_code([7, 8, 9, 10, 11, 12, 13, 14]);
        assert_eq!(c, "789A-BCDE");
        assert_eq!(c.len(), 9);
        assert_eq!(normalise_code(" 789a bcde "), "789A-BCDE");
        assert_eq!(normalise_code("789a-bcde"), "789A-BCDE");
        assert_eq!(normalise_code("789abcd"), "789ABCD");
        assert!(code_matches("789abcde", &c));
        assert!(!code_matches("789abcdf", &c));
        assert!(!code_matches("", &c));
    }
}
