//! The markers of an OpenSSH `known_hosts` file that libssh2 does not understand: it reads
//! `@revoked` and `@cert-authority` as host names, so a revoked key would be accepted wherever
//! another line lists it. These are read here, before libssh2's own check.

use base64::Engine;

/// What the file says about one server key, beyond libssh2's host matching.
#[derive(Debug, PartialEq, Eq)]
pub enum Marker {
    /// A `@revoked` line lists this very key: refused whatever other lines say.
    Revoked,
    /// The file has `@cert-authority` lines, which acc does not check (host certificates).
    CertAuthority,
    None,
}

/// Looks for `key` (the server's public key blob) on an `@revoked` line of `text`, and for
/// `@cert-authority` lines.
pub fn marker(text: &str, key: &[u8]) -> Marker {
    let mut authority = false;
    for line in text.lines().map(str::trim) {
        let mut fields = line.split_whitespace();
        match fields.next() {
            Some("@revoked") => {
                // @revoked HOSTS KEYTYPE BASE64 [COMMENT]
                let blob = fields
                    .nth(2)
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
                if blob.as_deref() == Some(key) {
                    return Marker::Revoked;
                }
            }
            Some("@cert-authority") => authority = true,
            _ => {}
        }
    }
    if authority {
        Marker::CertAuthority
    } else {
        Marker::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIIVO9xvrehezBf4CwsUK0RS72IodN2A3eTl6Fv5Gkk7V";

    fn blob() -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(KEY)
            .unwrap()
    }

    #[test]
    fn a_revoked_key_is_found_whatever_the_host_pattern() {
        let text = format!(
            "[127.0.0.1]:2222 ssh-ed25519 {KEY}\n@revoked * ssh-ed25519 {KEY} retired 2026-11\n"
        );
        assert_eq!(marker(&text, &blob()), Marker::Revoked);
    }

    #[test]
    fn another_revoked_key_or_a_plain_line_is_no_marker() {
        let other = "AAAAC3NzaC1lZDI1NTE5AAAAIKpbwqH48TLjjVVVZjrbxqpDUXZHaVxVPz1T9yBsoZHu";
        let text = format!("[127.0.0.1]:2222 ssh-ed25519 {KEY}\n@revoked * ssh-ed25519 {other}\n");
        assert_eq!(marker(&text, &blob()), Marker::None);
    }

    #[test]
    fn a_cert_authority_line_is_reported() {
        let text = format!("@cert-authority *.example ssh-ed25519 {KEY}\n");
        assert_eq!(marker(&text, b"another key"), Marker::CertAuthority);
    }
}
