//! Named points where a test can stop acc, to prove the next run recovers from the state a
//! kill leaves there, or that a run copes with what changed while it waited. With
//! `ACC_PAUSE_AT=NAME`, reaching point NAME prints `acc: paused at NAME` on stderr and waits:
//! until the file `ACC_RESUME_FILE` exists when that is set, else until the process is killed.
//! Unset, a point costs one lookup.

/// Pauses here when `ACC_PAUSE_AT` names this point.
pub async fn pause(name: &str) {
    if !std::env::var("ACC_PAUSE_AT").is_ok_and(|v| v == name) {
        return;
    }
    eprintln!("acc: paused at {name}");
    match std::env::var_os("ACC_RESUME_FILE") {
        Some(file) => {
            while !std::path::Path::new(&file).exists() {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}

/// The same for code on a blocking thread (a destination's calls).
pub fn pause_blocking(name: &str) {
    if !std::env::var("ACC_PAUSE_AT").is_ok_and(|v| v == name) {
        return;
    }
    eprintln!("acc: paused at {name}");
    loop {
        match std::env::var_os("ACC_RESUME_FILE") {
            Some(file) if std::path::Path::new(&file).exists() => return,
            _ => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
}
