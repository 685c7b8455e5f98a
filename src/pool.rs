//! The one way onto tokio's blocking pool, for work that blocks a thread (ssh2, age over files,
//! fsync, child processes): a panic there comes back as an internal error, never a hang.

use tokio::task::JoinHandle;

use crate::error::{Error, Result};

/// Runs `f` on the blocking pool and waits for it.
pub async fn run<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    start(f).join().await
}

/// Starts `f` on the blocking pool; `join` it later.
pub fn start<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Task<T> {
    Task(tokio::task::spawn_blocking(f))
}

/// Blocking work under way.
pub struct Task<T>(JoinHandle<T>);

impl<T> Task<T> {
    pub async fn join(self) -> Result<T> {
        self.0
            .await
            .map_err(|e| Error::internal("a blocking task panicked").source(e))
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_panic_on_the_pool_is_an_internal_error() {
        assert_eq!(super::run(|| 7).await.unwrap(), 7);
        let e = super::run(|| -> u8 { panic!("boom") }).await.unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(e.message().contains("panicked"));
    }
}
