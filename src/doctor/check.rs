//! One line of `acc doctor`'s checks: what was found, and the fix when it failed.

use serde::Serialize;

use crate::error::Error;

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    /// Passed, but weaker than it should be (a weak sslmode, a certificate about to expire).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub warning: bool,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

pub(super) fn pass(name: &str, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        ok: true,
        warning: false,
        detail: detail.into(),
        hint: None,
    }
}

pub(super) fn warn(name: &str, detail: impl Into<String>, hint: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        ok: true,
        warning: true,
        detail: detail.into(),
        hint: Some(hint.into()),
    }
}

pub(super) fn fail(name: &str, e: &Error) -> Check {
    Check {
        name: name.into(),
        ok: false,
        warning: false,
        detail: e.message().to_string(),
        hint: e.hint_text().map(str::to_string),
    }
}

pub(super) fn fail_with(name: &str, detail: impl Into<String>, hint: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        ok: false,
        warning: false,
        detail: detail.into(),
        hint: Some(hint.into()),
    }
}
