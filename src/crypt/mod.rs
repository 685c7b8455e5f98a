//! Sealing files: zstd then age to the profile's recipients, hashed as they are written, so
//! that plaintext never reaches the disk; and opening them again with an identity.

mod digest;
mod keys;
mod sealed;
pub mod signing;
mod stream;

pub use digest::{
    Check, CheckedReader, Digest, HashingReader, HashingWriter, Mismatch, Running, checked,
    file_digest, hex,
};
pub use keys::{Identities, Recipients, parse_one};
pub use sealed::{SealedWriter, open_sealed, unseal};
pub use stream::{decrypt_from, encrypt_to};
