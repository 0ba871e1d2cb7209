//! AES-256-CBC with PKCS#7 padding, the cipher inside a `SignalMessage`.

use aes::Aes256;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};

use crate::error::{OmemoError, Result};
use crate::kdf::MessageKeys;

/// Encrypts `plaintext` with the message keys' AES key and IV.
pub(crate) fn encrypt(keys: &MessageKeys, plaintext: &[u8]) -> Vec<u8> {
    cbc::Encryptor::<Aes256>::new(&keys.cipher_key.into(), &keys.iv.into())
        .encrypt_padded_vec::<Pkcs7>(plaintext)
}

/// Decrypts and unpads; a wrong key or padding is [`OmemoError::Decrypt`].
pub(crate) fn decrypt(keys: &MessageKeys, ciphertext: &[u8]) -> Result<Vec<u8>> {
    cbc::Decryptor::<Aes256>::new(&keys.cipher_key.into(), &keys.iv.into())
        .decrypt_padded_vec::<Pkcs7>(ciphertext)
        .map_err(|_| OmemoError::Decrypt)
}
