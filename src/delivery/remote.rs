//! The async face of a delivery: ssh2 and bulk file I/O block, so every call runs on
//! tokio's blocking pool and async code never holds a runtime thread while a server answers.
//! Library functions built on it run on any tokio runtime, a current-thread one included.

use std::sync::Arc;

use super::{Delivery, Reach};
use crate::env::Env;
use crate::error::Result;
use crate::location::Location;

/// An open delivery shared by async tasks and the blocking threads they start.
#[derive(Clone)]
pub struct Remote {
    inner: Arc<Delivery>,
}

impl Remote {
    /// Connects (for SFTP: host key, login) on the blocking pool.
    pub async fn open(location: &Location, reach: &Reach, env: &Env) -> Result<Remote> {
        let (location, reach, env) = (location.clone(), reach.clone(), env.clone());
        let delivery = crate::pool::run(move || Delivery::open(&location, &reach, &env)).await??;
        Ok(Remote {
            inner: Arc::new(delivery),
        })
    }

    /// For code already on a blocking thread.
    pub fn blocking(&self) -> &Delivery {
        &self.inner
    }

    /// Runs `f` with the delivery on the blocking pool.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Delivery) -> T + Send + 'static,
    ) -> Result<T> {
        let inner = Arc::clone(&self.inner);
        crate::pool::run(move || f(&inner)).await
    }
}
