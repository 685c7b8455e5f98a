//! Named points where a test can stop acc dead, to prove the next run recovers from the state
//! a kill leaves there. With `ACC_PAUSE_AT=NAME`, reaching point NAME prints `acc: paused at
//! NAME` on stderr and waits until the process is killed. Unset, a point costs one lookup.

/// Pauses here for good when `ACC_PAUSE_AT` names this point.
pub async fn pause(name: &str) {
    if std::env::var("ACC_PAUSE_AT").is_ok_and(|v| v == name) {
        eprintln!("acc: paused at {name}");
        std::future::pending::<()>().await;
    }
}
