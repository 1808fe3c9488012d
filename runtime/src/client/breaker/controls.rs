//! Forcing breakers open, turning them off and resetting them at run time, as operators do
//! with resilience4j's `transitionToForcedOpenState` / `transitionToDisabledState` / `reset`.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use super::{Breaker, Forced};

/// A handle on the breakers of the clients built with it
/// ([`ClientBuilder::breaker_controls`](crate::client::ClientBuilder::breaker_controls)):
/// force a method's breakers open (every endpoint's), turn them off, or reset them to closed
/// with nothing counted. Cheap to clone; clones control the same breakers, and the breakers of
/// endpoints that appear later (a resolved name's new addresses) start in the state forced on
/// their rpc.
#[derive(Clone, Default)]
pub struct BreakerControls {
    state: Arc<Mutex<Registry>>,
}

#[derive(Default)]
struct Registry {
    /// The breakers, with the name of the rpc each guards; those of endpoints gone are dropped
    /// as others are added.
    breakers: Vec<(&'static str, Weak<Breaker>)>,
    /// What was forced on an rpc's breakers and not reset since.
    forced: Vec<(String, Forced)>,
}

impl std::fmt::Debug for BreakerControls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let breakers: Vec<Arc<str>> = self
            .lock()
            .breakers
            .iter()
            .filter_map(|(_, breaker)| Some(Arc::clone(&breaker.upgrade()?.name)))
            .collect();
        f.debug_list().entries(breakers).finish()
    }
}

impl BreakerControls {
    /// A handle controlling no breaker yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the breaker of rpc `method`.
    pub(crate) fn register(&self, method: &'static str, breaker: Arc<Breaker>) {
        let mut registry = self.lock();
        registry
            .breakers
            .retain(|(_, breaker)| breaker.strong_count() > 0);
        if let Some((_, forced)) = registry.forced.iter().find(|(name, _)| name == method) {
            breaker.force(Some(*forced));
        }
        registry.breakers.push((method, Arc::downgrade(&breaker)));
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
        let mut registry = self.lock();
        registry.forced.clear();
        for (_, breaker) in &registry.breakers {
            if let Some(breaker) = breaker.upgrade() {
                breaker.force(None);
            }
        }
    }

    fn apply(&self, method: &str, forced: Option<Forced>) -> usize {
        let mut registry = self.lock();
        registry.forced.retain(|(name, _)| name != method);
        let mut count = 0;
        for (_, breaker) in registry.breakers.iter().filter(|(name, _)| *name == method) {
            if let Some(breaker) = breaker.upgrade() {
                breaker.force(forced);
                count += 1;
            }
        }
        if let Some(forced) = forced {
            registry.forced.push((method.to_owned(), forced));
        }
        count
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
