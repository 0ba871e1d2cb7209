//! Process exit codes, defined in one place (design.md, "Exit codes").

use std::fmt;

/// Why the process stopped; each cause has its own exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Finished normally.
    Ok,
    /// An error no other code describes.
    Unknown,
    /// A command-line argument was invalid (clap uses 2 as well).
    InvalidArgument,
    /// No settings file was found.
    NoSettings,
    /// A setting is missing or has a bad value.
    BadSetting,
    /// A program or library the command needs is missing.
    MissingDependency,
    /// The data store could not be opened or used.
    Store,
    /// The XMPP login failed (unreachable server, TLS failure, refused credentials).
    XmppLogin,
    /// A service the settings name (the LTI public URL) cannot be reached.
    Unreachable,
    /// The TLS version or cipher suite negotiated is not as configured.
    TlsNotAsConfigured,
}

impl ExitCode {
    /// The numeric code given to the operating system.
    pub const fn code(self) -> u8 {
        match self {
            ExitCode::Ok => 0,
            ExitCode::Unknown => 1,
            ExitCode::InvalidArgument => 2,
            ExitCode::NoSettings => 3,
            ExitCode::BadSetting => 4,
            ExitCode::MissingDependency => 5,
            ExitCode::Store => 6,
            ExitCode::XmppLogin => 7,
            ExitCode::Unreachable => 8,
            ExitCode::TlsNotAsConfigured => 127,
        }
    }

    /// Every code, for documentation and tests.
    pub const ALL: [ExitCode; 10] = [
        ExitCode::Ok,
        ExitCode::Unknown,
        ExitCode::InvalidArgument,
        ExitCode::NoSettings,
        ExitCode::BadSetting,
        ExitCode::MissingDependency,
        ExitCode::Store,
        ExitCode::XmppLogin,
        ExitCode::Unreachable,
        ExitCode::TlsNotAsConfigured,
    ];
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c.code())
    }
}

/// An error that knows which exit code it deserves.
#[derive(Debug)]
pub struct Failure {
    /// The exit code to stop with.
    pub code: ExitCode,
    /// What went wrong, for the operator.
    pub message: String,
}

impl Failure {
    /// A failure with a code and a message.
    pub fn new(code: ExitCode, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for c in ExitCode::ALL {
            assert!(seen.insert(c.code()), "{c:?} reuses {}", c.code());
        }
        assert_eq!(ExitCode::TlsNotAsConfigured.code(), 127);
    }
}
