//! The command line (clap): one subcommand per capability that exists.

/// `println!` for the commands' output, through [`write_stdout`].
macro_rules! outln {
    ($($t:tt)*) => {
        $crate::cli::write_stdout(format_args!("{}\n", format_args!($($t)*)))
    };
}

/// `print!` for the commands' output, through [`write_stdout`].
macro_rules! out {
    ($($t:tt)*) => {
        $crate::cli::write_stdout(format_args!($($t)*))
    };
}

pub mod admin;
pub mod check;
pub mod i18n;

/// Writes a command's output. A reader that has gone (`otrbot sessions list | head`) ends the
/// command quietly (exit 0, as the output was all it had left to do) instead of a panic;
/// another write error ends it with a message.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("otrbot: cannot write to standard output: {e}");
        std::process::exit(i32::from(ExitCode::Unknown.code()));
    }
}

use crate::exit::{ExitCode, Failure};
use crate::settings::{self, Settings};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// otrbot teaches learners to use OTR encryption and SMP verification over XMPP.
#[derive(Debug, Parser)]
#[command(name = "otrbot", version, about, long_about = None)]
pub struct Cli {
    /// Settings file to use (default: settings/<env>.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub settings: Option<PathBuf>,
    /// Environment whose settings/<env>.toml is used.
    #[arg(long, global = true, env = settings::ENV_VAR, default_value = settings::DEFAULT_ENV)]
    pub env: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bot with the chosen settings until stopped (SIGINT or SIGTERM).
    Run,
    /// Validate the settings, log in once to XMPP, reach the LTI URL, print a summary, and exit.
    CheckConfig(check::CheckArgs),
    /// Show or change who may talk to the bot (works while the bot runs).
    #[command(subcommand)]
    Whitelist(admin::WhitelistCmd),
    /// Show or end learners' sessions (works while the bot runs).
    #[command(subcommand)]
    Sessions(admin::SessionsCmd),
    /// Set a learner's shared secret, read from standard input (works while the bot runs).
    #[command(subcommand)]
    Secret(admin::SecretCmd),
    /// Show the running bot's own time per chat message (works while the bot runs).
    Stats(admin::StatsArgs),
    /// Write a template (.pot) of every translatable text in src/, crates/*/src/ and templates/.
    Extract(i18n::ExtractCmd),
    /// Start a translation catalogue for a new locale from a template.
    Init(i18n::InitCmd),
    /// Merge a template into a locale's catalogue (changed texts become fuzzy).
    Update(i18n::UpdateCmd),
    /// Compile translation catalogues (.po) to .mo, leaving fuzzy entries out.
    Compile(i18n::CompileCmd),
}

impl Cli {
    /// The settings file this invocation uses.
    pub fn settings_path(&self) -> PathBuf {
        self.settings
            .clone()
            .unwrap_or_else(|| settings::path_for_env(&self.env))
    }

    /// Loads and validates the settings, mapping failures to exit codes.
    pub fn load_settings(&self) -> Result<Settings, Failure> {
        settings::load(&self.settings_path()).map_err(|e| {
            let code = match e {
                settings::LoadError::NotFound(_) => ExitCode::NoSettings,
                _ => ExitCode::BadSetting,
            };
            Failure::new(code, e.to_string())
        })
    }
}

/// Runs a parsed command line.
pub fn execute(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Run => {
            let s = cli.load_settings()?;
            crate::logging::init(&s.logging).map_err(|e| Failure::new(ExitCode::BadSetting, e))?;
            crate::bot::run(s)
        }
        Command::Whitelist(ref c) => admin::whitelist(c, || cli.load_settings()),
        Command::Sessions(ref c) => admin::sessions(c, || cli.load_settings()),
        Command::Secret(ref c) => admin::secret(c, || cli.load_settings()),
        Command::Stats(ref c) => admin::stats(c, || cli.load_settings()),
        Command::Extract(ref c) => i18n::extract(c),
        Command::Init(ref c) => i18n::init(c),
        Command::Update(ref c) => i18n::update(c),
        Command::Compile(ref c) => i18n::compile(c),
        Command::CheckConfig(ref args) => {
            let s = cli.load_settings()?;
            check::check_config(&cli.settings_path(), &s, args)
        }
    }
}
