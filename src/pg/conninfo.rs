//! libpq's two ways of writing a connection in one string: a URL
//! (`postgresql://user@host:port/db?sslmode=verify-full`) and `key=value` pairs
//! (`host=db.example.org dbname=agency`). Both become the same list of settings.

/// The settings acc takes from a connection string, a service file or a profile.
pub const KEYS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslcrl",
];

/// The settings written in `text`, in order. A password is refused without echoing it, and so
/// is any key acc does not take.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let text = text.trim();
    let pairs = if text.starts_with("postgresql://") || text.starts_with("postgres://") {
        from_url(text)?
    } else {
        from_pairs(text)?
    };
    for (k, _) in &pairs {
        check_key(k)?;
    }
    Ok(pairs)
}

/// A key acc takes; a password is refused by name, never by value.
pub fn check_key(key: &str) -> Result<(), String> {
    match key {
        "password" => Err(
            "a password is written in it; passwords go in password_file, password_env, \
             password_credential or a .pgpass file"
                .into(),
        ),
        k if KEYS.contains(&k) => Ok(()),
        k => Err(format!(
            "'{k}' is not a setting acc takes (it takes {})",
            KEYS.join(", ")
        )),
    }
}

fn from_url(text: &str) -> Result<Vec<(String, String)>, String> {
    let url = url::Url::parse(text).map_err(|e| format!("not a PostgreSQL URL: {e}"))?;
    if url.password().is_some() {
        return Err(check_key("password").unwrap_err());
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(std::borrow::Cow::into_owned)
            .map_err(|_| "a percent-escape in the URL is not UTF-8".to_string())
    };
    let mut pairs = Vec::new();
    if !url.username().is_empty() {
        pairs.push(("user".into(), decode(url.username())?));
    }
    match url.host() {
        Some(url::Host::Domain(h)) if h.contains(',') => {
            return Err("several hosts in one URL are not supported; name one server".into());
        }
        Some(url::Host::Domain(h)) => pairs.push(("host".into(), decode(h)?)),
        Some(url::Host::Ipv4(a)) => pairs.push(("host".into(), a.to_string())),
        Some(url::Host::Ipv6(a)) => pairs.push(("host".into(), a.to_string())),
        None => {}
    }
    if let Some(port) = url.port() {
        pairs.push(("port".into(), port.to_string()));
    }
    let db = url.path().trim_start_matches('/');
    if !db.is_empty() {
        pairs.push(("dbname".into(), decode(db)?));
    }
    for (k, v) in url.query_pairs() {
        pairs.push((k.into_owned(), v.into_owned()));
    }
    Ok(pairs)
}

/// `key=value` pairs separated by spaces; a value may be single-quoted, with `\'` and `\\`.
fn from_pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!("'{key}' has no '=' and a value"));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\\') => value.push(chars.next().ok_or("a value ends in a backslash")?),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err(format!("the quoted value of '{key}' is not closed")),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.push(chars.next().ok_or("a value ends in a backslash")?);
                } else {
                    value.push(c);
                }
            }
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(pairs: &'a [(String, String)], k: &str) -> Option<&'a str> {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_url_and_key_value_pairs_give_the_same_settings() {
        let url = parse("postgresql://acc%40ops@db.example.org:6432/agency%20us?sslmode=verify-ca&sslrootcert=/etc/acc/ca.pem").unwrap();
        let kv = parse("user=acc@ops host=db.example.org port = 6432 dbname='agency us' sslmode=verify-ca sslrootcert=/etc/acc/ca.pem").unwrap();
        for k in ["user", "host", "port", "dbname", "sslmode", "sslrootcert"] {
            assert_eq!(get(&url, k), get(&kv, k), "{k}");
        }
        assert_eq!(get(&url, "user"), Some("acc@ops"));
        assert_eq!(get(&url, "dbname"), Some("agency us"));
    }

    #[test]
    fn quoted_values_keep_their_escapes() {
        let p = parse(r"dbname='it\'s' sslkey=/k\ ey").unwrap();
        assert_eq!(get(&p, "dbname"), Some("it's"));
        assert_eq!(get(&p, "sslkey"), Some("/k ey"));
        assert!(parse("dbname='open").is_err());
        assert!(parse("dbname").is_err());
    }

    #[test]
    fn a_password_is_refused_and_never_echoed() {
        for text in [
            "postgresql://acc:hunter2@db/agency",
            "host=db password=hunter2",
            "postgres://db/agency?password=hunter2",
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains("password"), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn unknown_keys_and_several_hosts_are_refused() {
        assert!(
            parse("host=db sslmod=require")
                .unwrap_err()
                .contains("sslmod")
        );
        assert!(
            parse("postgres://a,b/db")
                .unwrap_err()
                .contains("several hosts")
        );
    }
}
