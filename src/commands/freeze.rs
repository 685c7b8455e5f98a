//! `acc freeze on|off|show`: the staging refresh's freeze switch.

use serde_json::json;

use super::block_on;
use crate::cli::{FreezeAction, FreezeArgs};
use crate::config::{Config, RawProfile};
use crate::error::Result;
use crate::restore::{FreezeState, Target, freeze_off, freeze_on, freeze_state};
use crate::ui::output;

pub fn run(args: &FreezeArgs, config: &Config, profile: Option<&str>) -> Result<()> {
    let p = config.profile(profile, RawProfile::default())?;
    let target = Target {
        db: p.staging()?.clone(),
        is_staging: true,
    };
    let env = config.env();
    match &args.action {
        FreezeAction::On {
            reason,
            auto_off_after,
        } => {
            let by = who(env);
            let until = auto_off_after.map(|d| chrono::Utc::now() + d);
            let state = block_on(freeze_on(&target, env, &by, reason, until))??;
            output::emit(&format!("frozen: {}\n", describe(&state)))
        }
        FreezeAction::Off => {
            let was = block_on(freeze_off(&target, env))??;
            output::emit(if was {
                "unfrozen: the next acc restore refreshes staging\n"
            } else {
                "not frozen; nothing changed\n"
            })
        }
        FreezeAction::Show { json } => {
            let state = block_on(freeze_state(&target, env))??;
            if *json {
                output::emit_json(
                    &json!({ "database": target.name(), "frozen": state.is_some(), "freeze": state }),
                )
            } else {
                output::emit(&match state {
                    Some(s) => format!("frozen: {}\n", describe(&s)),
                    None => format!("not frozen: {} is refreshed nightly\n", target.name()),
                })
            }
        }
    }
}

fn describe(s: &FreezeState) -> String {
    format!(
        "{} since {} by {}: {}{}",
        s.database,
        s.frozen_at.format("%Y-%m-%d %H:%M UTC"),
        s.frozen_by,
        s.reason,
        s.auto_off_at
            .map(|t| format!(" (lifts itself at {})", t.format("%Y-%m-%d %H:%M UTC")))
            .unwrap_or_default()
    )
}

/// The person behind the command: the sudo user if any, then the login user, and the host.
fn who(env: &crate::env::Env) -> String {
    let user = env
        .get("SUDO_USER")
        .or_else(|| env.get("USER"))
        .or_else(|| env.get("LOGNAME"))
        .unwrap_or("unknown")
        .to_string();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{user}@{}", host.trim())
}
