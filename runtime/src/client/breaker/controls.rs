//! Forcing breakers open, turning them off and resetting them at run time, as operators do
//! with resilience4j's `transitionToForcedOpenState` / `transitionToDisabledState` / `reset`.

use std::sync::{Arc, Mutex, PoisonError};

use super::{Breaker, Forced};

/// A handle on the breakers of the clients built with it
/// ([`ClientBuilder::breaker_controls`](crate::client::ClientBuilder::breaker_controls)):
/// force a method's breakers open (every endpoint's), turn them off, or reset them to closed
/// with nothing counted. Cheap to clone; clones control the same breakers.
#[derive(Clone, Default)]
pub struct BreakerControls {
    breakers: Arc<Mutex<Vec<Registered>>>,
}

/// A breaker, with the name of the rpc it guards.
type Registered = (&'static str, Arc<Breaker>);

impl std::fmt::Debug for BreakerControls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let breakers = self.lock();
        f.debug_list()
            .entries(breakers.iter().map(|(_, breaker)| &breaker.name))
            .finish()
    }
}

impl BreakerControls {
    /// A handle controlling no breaker yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the breaker of rpc `method`.
    pub(crate) fn register(&self, method: &'static str, breaker: Arc<Breaker>) {
        self.lock().push((method, breaker));
    }

    /// Makes every call of rpc `method` fail fast with `UNAVAILABLE` until it is reset.
    /// Returns how many breakers (one per endpoint) were forced; 0 when there is no such rpc
    /// or its breaker is disabled by policy.
    pub fn force_open(&self, method: &str) -> usize {
        self.apply(method, Some(Forced::Open))
    }

    /// Lets every call of rpc `method` through, counting none, until it is reset.
    pub fn disable(&self, method: &str) -> usize {
        self.apply(method, Some(Forced::Disabled))
    }

    /// Puts the breakers of rpc `method` back to closed, with nothing counted and the open
    /// wait back to its first length; a forced state ends.
    pub fn reset(&self, method: &str) -> usize {
        self.apply(method, None)
    }

    /// [`BreakerControls::reset`] for every rpc.
    pub fn reset_all(&self) {
        for (_, breaker) in self.lock().iter() {
            breaker.force(None);
        }
    }

    fn apply(&self, method: &str, forced: Option<Forced>) -> usize {
        let breakers = self.lock();
        let mut count = 0;
        for (_, breaker) in breakers.iter().filter(|(name, _)| *name == method) {
            breaker.force(forced);
            count += 1;
        }
        count
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Registered>> {
        self.breakers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
