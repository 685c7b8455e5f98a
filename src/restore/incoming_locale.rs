//! The incoming database is made in production's encoding and locale (from the manifest), so
//! staging's copy sorts, compares and changes the case of text as production does. From
//! `template0`, acc names production's locale itself; a template of the operator's must
//! already be in it (PostgreSQL copies a template's locale and refuses another), or the run
//! stops with 78 before anything is made, with the statement for a new template.

use tokio_postgres::Client;

use crate::error::{Error, Result};
use crate::pg::locale::{DatabaseLocale, of_database};
use crate::pg::{quote_ident, quote_literal};

/// The `CREATE DATABASE` statement for `incoming` from `template` in `want`, production's
/// locale (`None` for a manifest that does not record it: the template's, as before).
pub async fn create_sql(
    admin: &Client,
    incoming: &str,
    template: &str,
    want: Option<&DatabaseLocale>,
) -> Result<String> {
    let plain = format!(
        "CREATE DATABASE {} TEMPLATE {}",
        quote_ident(incoming),
        quote_ident(template)
    );
    let Some(want) = want else {
        return Ok(plain);
    };
    let Some(has) = of_database(admin, Some(template)).await? else {
        return Err(Error::config(format!(
            "restore.template {template} does not exist on staging's server"
        ))
        .hint("create it, or set restore.template = \"template0\""));
    };
    match refusal_for(template, &has, want) {
        Some(e) => Err(e),
        None if has == *want => Ok(plain),
        None => Ok(format!("{plain} {}", options(want))),
    }
}

/// The refusal a restore from `template`, in `has`, meets for production's `want`: none when
/// they are the same, or from template0, where acc names production's locale itself.
pub fn refusal_for(template: &str, has: &DatabaseLocale, want: &DatabaseLocale) -> Option<Error> {
    (has != want && template != "template0").then(|| refusal(template, has, want))
}

/// `CREATE DATABASE` options that give a database `l`.
fn options(l: &DatabaseLocale) -> String {
    let mut o = format!(
        "ENCODING {} LC_COLLATE {} LC_CTYPE {}",
        quote_literal(&l.encoding),
        quote_literal(&l.collate),
        quote_literal(&l.ctype)
    );
    if let Some(locale) = &l.provider_locale {
        let key = match l.provider.as_str() {
            "icu" => "ICU_LOCALE",
            _ => "LOCALE",
        };
        o.push_str(&format!(
            " LOCALE_PROVIDER {} {key} {}",
            l.provider,
            quote_literal(locale)
        ));
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
        options(want)
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
    fn production_locale_is_named_for_template0_and_asked_of_another_template() {
        assert_eq!(
            options(&libc("ja_JP.UTF-8")),
            "ENCODING 'UTF8' LC_COLLATE 'ja_JP.UTF-8' LC_CTYPE 'ja_JP.UTF-8'"
        );
        let icu = DatabaseLocale {
            provider: "icu".into(),
            provider_locale: Some("und-u-ks-level2".into()),
            ..libc("C.UTF-8")
        };
        assert!(
            options(&icu).ends_with(" LOCALE_PROVIDER icu ICU_LOCALE 'und-u-ks-level2'"),
            "{}",
            options(&icu)
        );
        let e = refusal("acc_template", &libc("C.UTF-8"), &libc("ja_JP.UTF-8"));
        assert_eq!(e.exit_code(), 78);
        assert!(e.message().contains("is in UTF8, collation C.UTF-8, ctype C.UTF-8, production's database in UTF8, collation ja_JP.UTF-8"), "{}", e.message());
        let hint = e.hint_text().unwrap_or_default();
        assert!(
            hint.contains("CREATE DATABASE \"acc_template_ja_jp_utf_8\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'ja_JP.UTF-8' LC_CTYPE 'ja_JP.UTF-8' IS_TEMPLATE true;"),
            "{hint}"
        );
    }
}
