//! Where secret random bytes come from: the caller decides (the OS in the application, a
//! seeded source in tests), so the engine reads neither a clock nor a global generator.

use crate::error::{OmemoError, Result};

/// A source of secret random bytes.
pub trait Random {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]) -> Result<()>;
}

/// The operating system's generator (`getrandom`).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<()> {
        getrandom::fill(buf).map_err(|_| OmemoError::Rng)
    }
}

/// Returns `N` random bytes from `rng`.
pub(crate) fn bytes<const N: usize>(rng: &mut dyn Random) -> Result<[u8; N]> {
    let mut out = [0u8; N];
    rng.fill(&mut out)?;
    Ok(out)
}
