//! What a server error means for the run: PostgreSQL's SQLSTATE classes mapped, in one table,
//! to acc's kinds. Only what may pass on its own (a lost connection, a shutdown, a
//! serialization failure or deadlock, a lack of resources, a busy lock) is "safe to retry"; a
//! canceled statement is not (a statement_timeout cancels it again every night);
//! a missing privilege, an undefined object, an unsupported feature or invalid data fails the
//! same way every night until someone changes something, so cron and systemd must not retry it.

use crate::error::{Error, Kind};

/// SQLSTATE codes or two-character classes, most specific first, and what each means.
/// A code not listed is `Unavailable` (69): the server said no, for a reason acc did not plan.
const TABLE: &[(&str, Kind)] = &[
    // class 57, operator intervention: a shutdown passes; a dropped database does not, nor a
    // canceled statement (most often a statement_timeout, which cancels it again every night)
    ("57P01", Kind::Temporary),   // admin_shutdown
    ("57P02", Kind::Temporary),   // crash_shutdown
    ("57P03", Kind::Temporary),   // cannot_connect_now
    ("55P03", Kind::Temporary),   // lock_not_available
    ("08P01", Kind::Unavailable), // protocol violation: a pooler or proxy refusing, not a lost link
    ("42501", Kind::Permission),  // insufficient_privilege
    ("08", Kind::Temporary),      // connection exception
    ("40", Kind::Temporary),      // transaction rollback: serialization failure, deadlock
    ("53", Kind::Temporary),      // insufficient resources: disk full, out of memory, connections
    ("28", Kind::Permission),     // invalid authorization specification
    ("42", Kind::Config),         // syntax error or access rule: undefined objects and functions
    ("0A", Kind::Config),         // feature not supported
    ("3D", Kind::Config),         // invalid catalog name: no such database
    ("3F", Kind::Config),         // invalid schema name
    ("22", Kind::BadInput),       // data exception
    ("23", Kind::BadInput),       // integrity constraint violation
];

/// The kind of a server error's SQLSTATE; `None` (no SQLSTATE at all: the connection broke or
/// could not be made) is temporary.
pub fn kind_of_code(code: Option<&str>) -> Kind {
    let Some(code) = code else {
        return Kind::Temporary;
    };
    TABLE
        .iter()
        .find(|(prefix, _)| code.starts_with(prefix))
        .map(|&(_, kind)| kind)
        .unwrap_or(Kind::Unavailable)
}

/// The kind of a client error: by its SQLSTATE, or temporary when the link itself failed.
pub fn kind_of(e: &tokio_postgres::Error) -> Kind {
    if e.is_closed() {
        return Kind::Temporary;
    }
    kind_of_code(e.code().map(|c| c.code()))
}

/// `message` as an error of the kind the server's answer calls for. A temporary one says the run
/// is safe to retry; nothing else ever does.
pub fn failure(message: impl Into<String>, e: tokio_postgres::Error) -> Error {
    let kind = kind_of(&e);
    let err = Error::new(kind, message).source(e);
    match hint_for(kind) {
        Some(hint) => err.hint(hint),
        None => err,
    }
}

/// What an operator should do about a server error of `kind`.
fn hint_for(kind: Kind) -> Option<&'static str> {
    Some(match kind {
        Kind::Temporary => {
            "the server went away or was busy mid-run; nothing was published and the run is safe to retry"
        }
        Kind::Permission => {
            "grant acc's database user the privilege the server names; retrying alone will not help"
        }
        Kind::Config => {
            "the database holds something acc cannot use as it is; fix what the server names, then run again"
        }
        Kind::BadInput => "the server refused the data itself; retrying alone will not help",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_or_busy_server_is_temporary() {
        for code in [
            None,
            Some("08006"), // connection_failure
            Some("08001"), // sqlclient_unable_to_establish_sqlconnection
            Some("57P01"), // admin_shutdown
            Some("57P02"), // crash_shutdown
            Some("57P03"), // cannot_connect_now
            Some("40001"), // serialization_failure
            Some("40P01"), // deadlock_detected
            Some("53100"), // disk_full
            Some("53200"), // out_of_memory
            Some("53300"), // too_many_connections
            Some("55P03"), // lock_not_available
        ] {
            assert_eq!(kind_of_code(code), Kind::Temporary, "{code:?}");
            assert_eq!(Kind::Temporary.exit_code(), 75);
        }
    }

    #[test]
    fn a_missing_privilege_is_permission_never_retry() {
        assert_eq!(kind_of_code(Some("42501")), Kind::Permission);
        assert_eq!(kind_of_code(Some("28P01")), Kind::Permission);
        assert_eq!(kind_of_code(Some("28000")), Kind::Permission);
        assert_eq!(Kind::Permission.exit_code(), 77);
    }

    #[test]
    fn an_undefined_object_or_unsupported_feature_is_config() {
        for code in [
            "42883", // undefined_function: no binary output function for a type
            "42P01", // undefined_table
            "42704", // undefined_object
            "42601", // syntax_error
            "0A000", // feature_not_supported
            "3D000", // invalid_catalog_name
            "3F000", // invalid_schema_name
        ] {
            assert_eq!(kind_of_code(Some(code)), Kind::Config, "{code}");
        }
        assert_eq!(Kind::Config.exit_code(), 78);
    }

    #[test]
    fn invalid_data_is_bad_input() {
        for code in ["22P02", "22003", "22021", "23505", "23503", "23514"] {
            assert_eq!(kind_of_code(Some(code)), Kind::BadInput, "{code}");
        }
        assert_eq!(Kind::BadInput.exit_code(), 65);
    }

    #[test]
    fn anything_unplanned_is_unavailable_and_not_retried() {
        for code in [
            "XX000", "XX001", "58030", "55006", "57P04", "25006", "P0001", "57014", "08P01",
        ] {
            assert_eq!(kind_of_code(Some(code)), Kind::Unavailable, "{code}");
        }
    }

    #[test]
    fn only_a_temporary_failure_says_safe_to_retry() {
        for kind in [
            Kind::Temporary,
            Kind::Permission,
            Kind::Config,
            Kind::BadInput,
            Kind::Unavailable,
        ] {
            let retry = hint_for(kind).is_some_and(|h| h.contains("safe to retry"));
            assert_eq!(retry, kind == Kind::Temporary, "{kind:?}");
        }
    }
}
