//! Logging through tracing: terminal (coloured), journald or syslog; long records truncated;
//! learners' messages only when `log_user_msgs` is on.

use crate::settings::Logging;
use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Log records longer than this many bytes are cut (stanzas with avatar data).
pub const MAX_RECORD_BYTES: usize = 2048;

static LOG_USER_MSGS: AtomicBool = AtomicBool::new(false);

/// Whether learners' messages may be logged (the `log_user_msgs` setting).
pub fn user_msgs_allowed() -> bool {
    LOG_USER_MSGS.load(Ordering::Relaxed)
}

/// A learner's text for a log line: shown only when `log_user_msgs` is on.
pub struct UserText<'a>(pub &'a str);

impl fmt::Display for UserText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if user_msgs_allowed() {
            write!(f, "{:?}", self.0)
        } else {
            write!(f, "<{} bytes hidden>", self.0.len())
        }
    }
}

impl fmt::Debug for UserText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Any value whose `Debug` may carry learners' words (a raw stanza): shown only when
/// `log_user_msgs` is on.
pub struct IfAllowed<'a, T>(pub &'a T);

impl<T: fmt::Debug> fmt::Debug for IfAllowed<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if user_msgs_allowed() {
            self.0.fmt(f)
        } else {
            f.write_str("<hidden>")
        }
    }
}

/// Crates that log raw XML (message bodies, and the SASL exchange) at debug and trace.
const WIRE_LOGGERS: &[&str] = &["tokio_xmpp", "xmpp_parsers", "minidom", "rxml"];

/// Whether a record may be logged whatever the level filter says: the XMPP libraries'
/// records below `info` only when `log_user_msgs` is on (they print stanzas verbatim).
fn wire_record_allowed(target: &str, level: tracing::Level) -> bool {
    if level <= tracing::Level::INFO || user_msgs_allowed() {
        return true;
    }
    !WIRE_LOGGERS.iter().any(|c| {
        target
            .strip_prefix(c)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// Cuts a record to `max` bytes (on a character boundary), saying how much was cut.
pub fn truncate_record(buf: &[u8], max: usize) -> std::borrow::Cow<'_, [u8]> {
    if buf.len() <= max {
        return buf.into();
    }
    let mut cut = max;
    while cut > 0 && (buf[cut] & 0xc0) == 0x80 {
        cut -= 1;
    }
    let mut out = buf[..cut].to_vec();
    let ends_nl = buf.ends_with(b"\n");
    out.extend_from_slice(format!("…[{} bytes cut]", buf.len() - cut).as_bytes());
    if ends_nl {
        out.push(b'\n');
    }
    out.into()
}

/// A writer that truncates each record and, for journald, prefixes its syslog priority.
pub struct Truncating<W> {
    inner: W,
    prefix: Option<&'static str>,
}

impl<W: Write> Write for Truncating<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let rec = truncate_record(buf, MAX_RECORD_BYTES);
        if let Some(p) = self.prefix {
            self.inner.write_all(p.as_bytes())?;
        }
        self.inner.write_all(&rec)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Makes [`Truncating`] writers around another `MakeWriter`.
pub struct MakeTruncating<M> {
    inner: M,
    journald: bool,
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for MakeTruncating<M> {
    type Writer = Truncating<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        Truncating {
            inner: self.inner.make_writer(),
            prefix: self.journald.then_some("<6>"),
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        // sd-daemon(3) priority prefixes, read by journald from a service's stderr.
        let prefix = self.journald.then(|| match *meta.level() {
            tracing::Level::ERROR => "<3>",
            tracing::Level::WARN => "<4>",
            tracing::Level::INFO => "<6>",
            _ => "<7>",
        });
        Truncating {
            inner: self.inner.make_writer_for(meta),
            prefix,
        }
    }
}

/// The filter of a `logging.level` setting: a level or tracing's filter directives.
///
/// Only printable ASCII is taken, and each directive is trimmed here: tracing-subscriber
/// 0.3 slices a directive with leading space at the wrong offsets (a panic when a
/// multi-byte character follows; found by the settings fuzz target).
pub fn filter(level: &str) -> Result<EnvFilter, String> {
    if let Some(c) = level.chars().find(|c| !(c.is_ascii_graphic() || *c == ' ')) {
        return Err(format!(
            "{c:?} is not allowed: a level (error, warn, info, debug, trace) or filter directives in ASCII"
        ));
    }
    let directives: Vec<&str> = level.split(',').map(str::trim).collect();
    EnvFilter::builder()
        .parse(directives.join(","))
        .map_err(|e| format!("not a level or filter: {e}"))
}

/// Installs the global subscriber for these settings. Call once, early.
pub fn init(cfg: &Logging) -> Result<(), String> {
    LOG_USER_MSGS.store(cfg.log_user_msgs, Ordering::Relaxed);
    let filter = filter(&cfg.level).map_err(|e| format!("setting `logging.level`: {e}"))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let wire =
        tracing_subscriber::filter::filter_fn(|m| wire_record_allowed(m.target(), *m.level()));
    let result = match cfg.output.as_str() {
        "syslog" => {
            let ident = c"otrbot";
            let syslog = syslog_tracing::Syslog::new(
                ident,
                syslog_tracing::Options::LOG_PID,
                syslog_tracing::Facility::Daemon,
            )
            .ok_or("cannot open syslog")?;
            builder
                .with_ansi(false)
                .without_time()
                .with_target(true)
                .with_writer(MakeTruncating {
                    inner: syslog,
                    journald: false,
                })
                .finish()
                .with(wire)
                .try_init()
        }
        "journald" => builder
            .with_ansi(false)
            .without_time()
            .with_level(false)
            .with_writer(MakeTruncating {
                inner: io::stderr,
                journald: true,
            })
            .finish()
            .with(wire)
            .try_init(),
        _ => builder
            .with_ansi(io::stderr().is_terminal())
            .with_writer(MakeTruncating {
                inner: io::stderr,
                journald: false,
            })
            .finish()
            .with(wire)
            .try_init(),
    };
    result.map_err(|e| format!("cannot install the logger: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_records_are_cut() {
        let rec = format!("{}\n", "é".repeat(3000));
        let out = truncate_record(rec.as_bytes(), MAX_RECORD_BYTES);
        let s = std::str::from_utf8(&out).expect("cut on a character boundary");
        assert!(s.len() < MAX_RECORD_BYTES + 40);
        assert!(s.ends_with("bytes cut]\n"), "{s}");
        assert_eq!(&*truncate_record(b"short\n", 10), b"short\n");
    }

    #[test]
    fn filters_checked_and_trimmed() {
        assert!(filter("info, otrbot=debug").is_ok());
        assert!(filter("").is_ok());
        for bad in ["2, lߗx", " ߗ=info", "info,\tdebug", "loud=["] {
            assert!(filter(bad).is_err(), "{bad:?}");
        }
        let err = filter("info, lߗx").expect_err("non-ASCII");
        assert!(err.contains("'ߗ'"), "{err}");
    }

    #[test]
    fn xmpp_libraries_below_info_are_dropped_unless_allowed() {
        LOG_USER_MSGS.store(false, Ordering::Relaxed);
        use tracing::Level;
        let raw = "tokio_xmpp::xmlstream::capture";
        assert!(!wire_record_allowed(raw, Level::TRACE));
        assert!(!wire_record_allowed("rxml", Level::DEBUG));
        assert!(wire_record_allowed("tokio_xmpp", Level::INFO));
        assert!(wire_record_allowed("otrbot::xmpp::link", Level::TRACE));
        assert!(wire_record_allowed("rxmlish", Level::TRACE));
        assert_eq!(format!("{:?}", IfAllowed(&"a body")), "<hidden>");
    }

    #[test]
    fn user_text_hidden_by_default() {
        LOG_USER_MSGS.store(false, Ordering::Relaxed);
        assert_eq!(UserText("my secret").to_string(), "<9 bytes hidden>");
    }
}
