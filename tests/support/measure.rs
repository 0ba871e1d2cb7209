//! What both load benchmarks (benches/lesson_load.rs, benches/omemo_load.rs) measure with and
//! run against: the bot's admin socket, CPU time of a process and of this thread, memory, the
//! Prosody in use, percentiles.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::learner::Bot;

/// An environment variable, parsed, or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Whitelists `jid` through the bot's admin socket, as an LTI launch does.
pub async fn whitelist_add(sock: &Path, jid: &str) -> Result<(), String> {
    let req = otrbot::bot::admin::Request::WhitelistAdd {
        jid: jid.to_owned(),
        locale: "en_GB".to_owned(),
    };
    admin(sock, &req).await.map(drop)
}

/// One request to the bot's admin socket; its successful reply.
pub async fn admin(
    sock: &Path,
    req: &otrbot::bot::admin::Request,
) -> Result<otrbot::bot::admin::Reply, String> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let stream = tokio::net::UnixStream::connect(sock)
        .await
        .map_err(|e| e.to_string())?;
    let (read, mut write) = stream.into_split();
    let line = serde_json::to_string(req).map_err(|e| e.to_string())? + "\n";
    write
        .write_all(line.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    tokio::io::BufReader::new(read)
        .read_line(&mut answer)
        .await
        .map_err(|e| e.to_string())?;
    match serde_json::from_str(&answer) {
        Ok(otrbot::bot::admin::Response::Ok { reply }) => Ok(reply),
        _ => Err(format!("the bot answered {answer:?}")),
    }
}

/// CPU time of the calling thread.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `ts` is.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// utime + stime of `pid`.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    let hz: u64 = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100);
    Duration::from_secs_f64(ticks as f64 / hz as f64)
}

/// Whether `pid` runs (exists and is not a zombie).
pub fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().to_owned())
        })
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

/// A `kB` line of /proc/`pid`/status (VmHWM, VmRSS), in MB.
pub fn status_mb(pid: u32, key: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(key)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT MET"
    }
}

/// Uses scripts/test's Prosody (rosters in files), or starts one with rosters in SQLite (returned, to be stopped after the run).
pub fn ensure_prosody() -> Option<PathBuf> {
    if std::env::var_os("OTRBOT_TEST_PROSODY_DIR").is_some() {
        return None;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join(".run/prosody-bench");
    let port: u16 = env_or("OTRBOT_LOAD_PROSODY_PORT", 15230);
    let ok = Command::new("bash")
        .arg("-c")
        .arg(r#"source scripts/lib/prosody.sh && prosody_up "$1" "$2""#)
        .args([
            "prosody_up",
            dir.to_str().expect("utf-8 path"),
            &port.to_string(),
        ])
        .env(
            "OTRBOT_PROSODY_ROSTER_STORAGE",
            env_or("OTRBOT_PROSODY_ROSTER_STORAGE", "sql".to_owned()),
        )
        .current_dir(root)
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "cannot start Prosody in {} on port {port}",
        dir.display()
    );
    std::env::set_var("OTRBOT_TEST_PROSODY_DIR", &dir);
    std::env::set_var("OTRBOT_TEST_PROSODY_PORT", port.to_string());
    Some(dir)
}

pub fn stop_prosody(dir: &Path) {
    let _ = Command::new("bash")
        .arg("-c")
        .arg(r#"source scripts/lib/prosody.sh && prosody_down "$1""#)
        .args(["prosody_down", dir.to_str().expect("utf-8 path")])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status();
}

/// Waits until the bot is online (its admin socket appears after the XMPP login).
pub fn wait_online(bot: &mut Bot, data: &Path) {
    let sock = otrbot::bot::admin::socket_path(data);
    let until = Instant::now() + Duration::from_secs(60);
    while !sock.exists() {
        if let Ok(Some(status)) = bot.child.try_wait() {
            panic!("otrbot run exited with {status}");
        }
        assert!(
            Instant::now() < until,
            "the bot did not come online in 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
