//! The incoming database is made in production's encoding and locale (from the manifest), so
//! staging's copy sorts, compares and changes the case of text as production does. From
//! `template0`, acc names production's locale itself; a template of the operator's must
//! already be in it (PostgreSQL copies a template's locale and refuses another), or the run
//! stops with 78 before anything is made, with the statement for a new template.

use tokio_postgres::Client;

use crate::error::{Error, Result};
use crate::pg::locale::{DatabaseLocale, of_database};
use crate::pg::sqlstate::failure;
use crate::pg::{quote_ident, quote_literal};

/// Creates `incoming` from `template` in `want`, production's locale (`None` for a manifest
/// that does not record it: the template's, as before), and reads it back: a copy in another
/// locale than production's is dropped and refused (78).
pub async fn create(
    admin: &Client,
    incoming: &str,
    template: &str,
    want: Option<&DatabaseLocale>,
) -> Result<()> {
    let plain = format!(
        "CREATE DATABASE {} TEMPLATE {}",
        quote_ident(incoming),
        quote_ident(template)
    );
    let cannot = |e| {
        failure(format!("cannot create {incoming} on the target server"), e).hint(
            "the staging user needs CREATEDB, and restore.template must exist with no sessions on it",
        )
    };
    let Some(want) = want else {
        return admin.batch_execute(&plain).await.map_err(cannot);
    };
    let Some(has) = of_database(admin, Some(template)).await? else {
        return Err(Error::config(format!(
            "restore.template {template} does not exist on staging's server"
        ))
        .hint("create it, or set restore.template = \"template0\""));
    };
    if let Some(e) = refusal_for(template, &has, want) {
        return Err(e);
    }
    if same(&has, want) {
        admin.batch_execute(&plain).await.map_err(cannot)?;
    } else {
        let version: i32 = admin
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .await
            .map_err(|e| failure("cannot read staging's server version", e))?
            .get(0);
        let sql = format!("{plain} {}", options(want, version >= 150000));
        admin
            .batch_execute(&sql)
            .await
            .map_err(|e| locale_missing(e, want))?;
    }
    // what PostgreSQL made, not what was asked: a provider left out is the template's
    let made = of_database(admin, Some(incoming)).await?;
    if made.as_ref().is_some_and(|m| !same(m, want)) {
        let made = made.map(|m| m.to_string()).unwrap_or_default();
        let _ = admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {}",
                quote_ident(incoming)
            ))
            .await;
        return Err(Error::config(format!(
            "staging's server made {incoming} in {made}, not production's {want}, so it was dropped"
        ))
        .hint("make a template in production's locale as a superuser (see docs/snapshot.md, \"What staging holds\") and set restore.template to it"));
    }
    Ok(())
}

/// The refusal a restore from `template`, in `has`, meets for production's `want`: none when
/// they are the same, or from template0, where acc names production's locale itself.
pub fn refusal_for(template: &str, has: &DatabaseLocale, want: &DatabaseLocale) -> Option<Error> {
    (!same(has, want) && template != "template0").then(|| refusal(template, has, want))
}

/// Whether two databases hold text alike: the same encoding and provider, and the same
/// locale (for libc, `en_US.UTF-8` and `en_US.utf8` name one; for ICU and builtin, their
/// locale alone sorts, whatever LC_COLLATE says).
pub fn same(a: &DatabaseLocale, b: &DatabaseLocale) -> bool {
    let libc = |l: &str| match l.split_once('.') {
        Some((lang, set)) => format!("{lang}.{}", set.to_lowercase().replace('-', "")),
        None => l.to_string(),
    };
    a.encoding == b.encoding
        && a.provider == b.provider
        && match a.provider.as_str() {
            "libc" => libc(&a.collate) == libc(&b.collate) && libc(&a.ctype) == libc(&b.ctype),
            _ => a.provider_locale == b.provider_locale && libc(&a.ctype) == libc(&b.ctype),
        }
}

/// A `CREATE DATABASE` in production's locale refused: the locale (most often) is not on
/// staging's server, which no retry changes.
fn locale_missing(e: tokio_postgres::Error, want: &DatabaseLocale) -> Error {
    let e = failure(
        format!("staging's server cannot make a database in production's {want}"),
        e,
    );
    Error::new(crate::error::Kind::Config, e.message().to_string()).hint(
        "install production's locale on the staging server (Debian: add it to /etc/locale.gen, run locale-gen, restart PostgreSQL), or, on PostgreSQL 14 or older, production's ICU provider needs a newer staging server",
    )
}

/// `CREATE DATABASE` options that give a database `l`; `providers`: the server (15 on) takes
/// LOCALE_PROVIDER, which is then always named, or it would be the template's.
fn options(l: &DatabaseLocale, providers: bool) -> String {
    let mut o = format!(
        "ENCODING {} LC_COLLATE {} LC_CTYPE {}",
        quote_literal(&l.encoding),
        quote_literal(&l.collate),
        quote_literal(&l.ctype)
    );
    match &l.provider_locale {
        Some(locale) => {
            let key = match l.provider.as_str() {
                "icu" => "ICU_LOCALE",
                _ => "BUILTIN_LOCALE",
            };
            o.push_str(&format!(
                " LOCALE_PROVIDER {} {key} {}",
                l.provider,
                quote_literal(locale)
            ));
        }
        None if providers => o.push_str(" LOCALE_PROVIDER libc"),
        None => {}
    }
    o
}

fn refusal(template: &str, has: &DatabaseLocale, want: &DatabaseLocale) -> Error {
    Error::config(format!(
        "restore.template {template} is in {has}, production's database in {want}: staging's copy would sort and compare text otherwise, so nothing was made"
    ))
    .hint(format!(
        "as a superuser on staging's server, once, make a template in production's locale and set restore.template to it: CREATE DATABASE {} TEMPLATE template0 {} IS_TEMPLATE true; then run in it what {template} was given (extensions, grants). Or set restore.template = \"template0\". Staging is untouched",
        quote_ident(&format!("{template}_{}", suffix(want))),
        options(want, true)
    ))
}

/// A name part for a template in `l`: its collation, in letters and digits.
fn suffix(l: &DatabaseLocale) -> String {
    l.collate
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() {
            true => c.to_ascii_lowercase(),
            false => '_',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn libc(collate: &str) -> DatabaseLocale {
        DatabaseLocale {
            encoding: "UTF8".into(),
            collate: collate.into(),
            ctype: collate.into(),
            provider: "libc".into(),
            provider_locale: None,
        }
    }

    #[test]
    fn one_locale_spelt_two_ways_is_the_same_and_icu_is_compared_by_its_own_locale() {
        assert!(same(&libc("en_US.UTF-8"), &libc("en_US.utf8")));
        assert!(!same(&libc("en_US.UTF-8"), &libc("en_GB.UTF-8")));
        assert!(!same(&libc("C.UTF-8"), &libc("C")));
        let icu = |collate: &str, locale: &str| DatabaseLocale {
            provider: "icu".into(),
            provider_locale: Some(locale.into()),
            ..libc(collate)
        };
        assert!(same(&icu("C.UTF-8", "und"), &icu("C.utf8", "und")));
        assert!(!same(&icu("C.UTF-8", "und"), &icu("C.UTF-8", "de")));
        assert!(!same(&icu("C.UTF-8", "und"), &libc("C.UTF-8")));
        let latin1 = DatabaseLocale {
            encoding: "LATIN1".into(),
            ..libc("C")
        };
        assert!(!same(&latin1, &libc("C")));
    }

    #[test]
    fn production_locale_is_named_for_template0_and_asked_of_another_template() {
        assert_eq!(
            options(&libc("ja_JP.UTF-8"), false),
            "ENCODING 'UTF8' LC_COLLATE 'ja_JP.UTF-8' LC_CTYPE 'ja_JP.UTF-8'"
        );
        // from 15 on the provider is always named, or template0's would be taken
        assert!(
            options(&libc("ja_JP.UTF-8"), true)
                .ends_with("LC_CTYPE 'ja_JP.UTF-8' LOCALE_PROVIDER libc")
        );
        let icu = DatabaseLocale {
            provider: "icu".into(),
            provider_locale: Some("und-u-ks-level2".into()),
            ..libc("C.UTF-8")
        };
        assert!(
            options(&icu, true).ends_with(" LOCALE_PROVIDER icu ICU_LOCALE 'und-u-ks-level2'"),
            "{}",
            options(&icu, true)
        );
        let e = refusal("acc_template", &libc("C.UTF-8"), &libc("ja_JP.UTF-8"));
        assert_eq!(e.exit_code(), 78);
        assert!(e.message().contains("is in UTF8, collation C.UTF-8, ctype C.UTF-8, production's database in UTF8, collation ja_JP.UTF-8"), "{}", e.message());
        let hint = e.hint_text().unwrap_or_default();
        assert!(
            hint.contains("CREATE DATABASE \"acc_template_ja_jp_utf_8\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'ja_JP.UTF-8' LC_CTYPE 'ja_JP.UTF-8' LOCALE_PROVIDER libc IS_TEMPLATE true;"),
            "{hint}"
        );
    }
}
