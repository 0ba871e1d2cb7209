//! The bot's own OMEMO devices (the true one and the lesson's impostor), kept so that their
//! identities (the fingerprints learners compare) survive restarts. Opaque bytes here; the
//! bot encodes the omemo crate's `Account`.

use super::{trees, Error, Result, SecretBytes, Store};

/// Which of the bot's OMEMO devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OmemoRole {
    /// The device whose fingerprint the course page shows; it reads and answers.
    True,
    /// The device listed beside it for learners to refuse; never used.
    Impostor,
}

impl OmemoRole {
    fn key(self) -> &'static [u8] {
        match self {
            OmemoRole::True => trees::OMEMO_DEVICE_KEY,
            OmemoRole::Impostor => trees::OMEMO_IMPOSTOR_KEY,
        }
    }
}

const DEVICE_KEY: &[u8] = trees::OMEMO_DEVICE_KEY;

impl Store {
    /// The bot's true OMEMO device, made by `make` and stored (durably) the first time.
    pub fn omemo_device<E: From<Error>>(
        &self,
        make: impl FnOnce() -> std::result::Result<SecretBytes, E>,
    ) -> std::result::Result<SecretBytes, E> {
        self.omemo_device_of(OmemoRole::True, make)
    }

    /// The bot's OMEMO device of `role`, made by `make` and stored (durably) the first time.
    /// Two callers at once store one device: the second gets the first's.
    pub fn omemo_device_of<E: From<Error>>(
        &self,
        role: OmemoRole,
        make: impl FnOnce() -> std::result::Result<SecretBytes, E>,
    ) -> std::result::Result<SecretBytes, E> {
        let key = role.key();
        if let Some(v) = self.t.omemo.get(key).map_err(Error::from)? {
            return Ok(SecretBytes::from(&v[..]));
        }
        let made = make()?;
        let swapped = self
            .t
            .omemo
            .compare_and_swap(key, None as Option<&[u8]>, Some(made.expose()))
            .map_err(Error::from)?;
        let stored = match swapped {
            Ok(()) => made,
            Err(e) => match e.current {
                Some(current) => SecretBytes::from(&current[..]),
                None => made,
            },
        };
        self.t.omemo.flush().map_err(Error::from)?;
        Ok(stored)
    }

    /// Replaces the bot's OMEMO device (after its prekeys changed).
    pub fn put_omemo_device(&self, device: &SecretBytes) -> Result<()> {
        self.t.omemo.insert(DEVICE_KEY, device.expose())?;
        self.t.omemo.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_device_is_kept_whoever_asks_first_and_at_once() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        // Eight callers at once, each with its own device: all get the same one.
        let got: Vec<Vec<u8>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8u8)
                .map(|i| {
                    let s = &s;
                    scope.spawn(move || {
                        s.omemo_device(|| Ok::<_, Error>(SecretBytes::new(vec![i; 16])))
                            .unwrap()
                            .expose()
                            .to_vec()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(got.windows(2).all(|w| w[0] == w[1]), "{got:?}");
        // Later calls make nothing; a replacement is what later calls read.
        let again = s.omemo_device(|| -> std::result::Result<SecretBytes, Error> {
            panic!("made a second device")
        });
        assert_eq!(again.unwrap().expose(), &got[0][..]);
        s.put_omemo_device(&SecretBytes::new(vec![9; 4])).unwrap();
        let replaced = s.omemo_device(|| -> std::result::Result<SecretBytes, Error> {
            panic!("made a second device")
        });
        assert_eq!(replaced.unwrap().expose(), &[9; 4]);
    }
}
