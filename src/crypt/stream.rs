//! Plain age streams, without compression: what exports are, so that the Debian `age` CLI
//! alone turns them back into CSV.

use std::io::{Read, Write};

use super::keys::{Identities, Recipients};
use crate::error::{Error, Kind, Result};

/// Encrypts everything written to the returned writer for every recipient. Call `finish()`
/// on it, or the last chunk is lost.
pub fn encrypt_to<W: Write>(
    recipients: &Recipients,
    out: W,
) -> Result<age::stream::StreamWriter<W>> {
    recipients
        .encryptor()?
        .wrap_output(out)
        .map_err(|e| Error::internal("cannot start encrypting").source(e))
}

/// Decrypts an age stream with any of the identities; `name` says which file, in errors.
pub fn decrypt_from<R: Read>(
    identities: &Identities,
    input: R,
    name: &str,
) -> Result<age::stream::StreamReader<R>> {
    let decryptor = age::Decryptor::new(input)
        .map_err(|e| Error::new(Kind::BadInput, format!("{name} is not an age file")).source(e))?;
    decryptor.decrypt(identities.iter()).map_err(|e| {
        Error::new(Kind::BadInput, format!("cannot decrypt {name}"))
            .source(e)
            .hint("is the identity one of the profile's age recipients?")
    })
}
