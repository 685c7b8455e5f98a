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

/// An age header for any sane set of recipients fits well within this; one that does not is
/// refused before the age crate reads it (it would hold the whole header in memory).
pub const HEADER_LIMIT: usize = 64 * 1024;

/// Decrypts an age stream with any of the identities; `name` says which file, in errors.
pub fn decrypt_from<R: Read>(
    identities: &Identities,
    input: R,
    name: &str,
) -> Result<age::stream::StreamReader<std::io::Chain<std::io::Cursor<Vec<u8>>, R>>> {
    let input = bounded_header(input, name)?;
    let decryptor = age::Decryptor::new(input)
        .map_err(|e| Error::new(Kind::BadInput, format!("{name} is not an age file")).source(e))?;
    decryptor.decrypt(identities.iter()).map_err(|e| {
        Error::new(Kind::BadInput, format!("cannot decrypt {name}"))
            .source(e)
            .hint("is the identity one of the profile's age recipients?")
    })
}

/// Reads the start of an age file, up to `HEADER_LIMIT` bytes, and refuses one whose header
/// does not end within them; gives back a reader of the whole file.
fn bounded_header<R: Read>(
    mut input: R,
    name: &str,
) -> Result<std::io::Chain<std::io::Cursor<Vec<u8>>, R>> {
    let mut head = Vec::with_capacity(4096);
    (&mut input)
        .take(HEADER_LIMIT as u64)
        .read_to_end(&mut head)
        .map_err(|e| Error::new(Kind::Temporary, format!("cannot read {name}")).source(e))?;
    if head.len() == HEADER_LIMIT && head.starts_with(b"age-encryption.org/") && !header_ends(&head)
    {
        return Err(Error::new(
            Kind::BadInput,
            format!("{name}: its age header does not end within {HEADER_LIMIT} bytes"),
        )
        .hint(
            "a file acc wrote has a header of a few hundred bytes: this one was not made by acc",
        ));
    }
    Ok(std::io::Cursor::new(head).chain(input))
}

/// Whether the header's last line, its MAC (`--- …`), is complete in `head`.
fn header_ends(head: &[u8]) -> bool {
    head.windows(5)
        .position(|w| w == b"\n--- ")
        .is_some_and(|at| head[at + 5..].contains(&b'\n'))
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use age::secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn a_header_that_does_not_end_within_the_limit_is_refused_before_age_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let identity = age::x25519::Identity::generate();
        let key = dir.path().join("identity.txt");
        std::fs::write(&key, identity.to_string().expose_secret()).unwrap();
        let ids = Identities::load(&key).unwrap();
        let recipients = Recipients::parse(vec![identity.to_public().to_string()]).unwrap();

        let mut sealed = Vec::new();
        let mut w = encrypt_to(&recipients, &mut sealed).unwrap();
        w.write_all(b"employee_number\r\nE1\r\n").unwrap();
        w.finish().unwrap();
        let mut plain = Vec::new();
        decrypt_from(&ids, &sealed[..], "ok.csv.age")
            .unwrap()
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, b"employee_number\r\nE1\r\n");

        // a hostile server's file: a stanza that never ends
        let mut hostile = b"age-encryption.org/v1\n-> X25519 ".to_vec();
        hostile.extend(std::iter::repeat_n(b'A', 4 * HEADER_LIMIT));
        let Err(err) = decrypt_from(&ids, &hostile[..], "hostile.csv.age") else {
            panic!("a header without end was read");
        };
        assert_eq!(err.exit_code(), 65);
        assert!(
            err.message().contains("does not end within"),
            "{}",
            err.message()
        );
    }
}
