//! The checks of an answer that need the world: a server logged in to as acc will, with the
//! doctor's checks of it; the export destination reached; the store made. Each runs on the
//! answers so far, written as the file would be and read back as acc reads it.

use std::io::Write;
use std::path::Path;

use super::answers::Answers;
use super::render::render;
use crate::config::{Config, Profile, RawProfile};
use crate::doctor::Check;
use crate::env::Env;

/// The profile the answers so far make, read back through the configuration loader.
pub fn profile_of(a: &Answers, env: &Env) -> std::result::Result<Profile, String> {
    let dir = crate::process::PrivateDir::new("init")
        .map_err(|e| format!("cannot create a private temporary directory: {e}"))?;
    let text = render(a, chrono::Local::now().date_naive());
    let path = dir
        .write("acc.toml", text.as_bytes())
        .map_err(|e| format!("cannot stage the configuration: {e}"))?;
    let config = Config::load(env.clone(), Some(path)).map_err(|e| e.message().to_string())?;
    config
        .profile(Some(&a.profile), RawProfile::default())
        .map_err(|e| e.message().to_string())
}

/// Logs in to `production` or `staging` and shows what the doctor finds there (the server's
/// version, TLS and its certificate, the rights acc lacks). The answer stands once login works;
/// what else fails is shown, for the operator to fix before the first night.
pub fn database(
    name: &str,
    a: &Answers,
    env: &Env,
    out: &mut dyn Write,
) -> std::result::Result<(), String> {
    let p = profile_of(a, env)?;
    let checks = block_on(crate::doctor::check_database(name, &p, env))?;
    show(out, &checks);
    match checks.first() {
        Some(login) if login.ok => Ok(()),
        Some(login) => Err(login.detail.clone()),
        None => Err(format!("{name} is not configured")),
    }
}

/// Logs in to the export destination and checks its host key.
pub fn destination(a: &Answers, env: &Env, out: &mut dyn Write) -> std::result::Result<(), String> {
    let p = profile_of(a, env)?;
    let checks = block_on(crate::doctor::check_destination(&p, env))?;
    show(out, &checks);
    match checks.iter().find(|c| !c.ok) {
        None => Ok(()),
        Some(c) => Err(c.detail.clone()),
    }
}

/// Makes the store (0700) when missing, and checks acc can write there.
pub fn store(path: &Path) -> std::result::Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let probe = path.join(format!(".acc-init-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| format!("cannot write in {}: {e}", path.display()))
}

fn show(out: &mut dyn Write, checks: &[Check]) {
    for c in checks {
        let _ = write!(out, "{}", c.line());
    }
}

fn block_on<F: std::future::Future>(f: F) -> std::result::Result<F::Output, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    Ok(runtime.block_on(f))
}
