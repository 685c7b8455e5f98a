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

impl Check {
    /// The check as `acc doctor` prints it: status, name, detail, and the hint beneath.
    pub fn line(&self) -> String {
        let status = match (self.ok, self.warning) {
            (false, _) => "FAIL",
            (true, true) => "WARN",
            (true, false) => "ok",
        };
        let mut s = format!("  {status:<4} {:<24} {}\n", self.name, self.detail);
        if let Some(h) = &self.hint {
            s.push_str(&format!("       {:<24} hint: {h}\n", ""));
        }
        s
    }
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
