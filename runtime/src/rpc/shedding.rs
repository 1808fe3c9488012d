//! How a service sheds load, as options.proto (`load_shedding`) and the server builder set it.
//! Data only: `call::admission` carries it out.

use std::time::Duration;

/// A service's adaptive concurrency limit: how many of its calls may run at once, found from
/// their latency, and how long a call over the limit may wait for a slot.
///
/// The limit starts at `initial_limit` and moves between `min_limit` and `max_limit` by the
/// gradient rule of Netflix's concurrency-limits (`Gradient2`) and Envoy's adaptive
/// concurrency filter: while the recent latency stays within `tolerance` times the long-run
/// latency, the limit grows; past that it falls in proportion. A call that finds the limit
/// reached waits in line for a slot as long as its deadline leaves room for the wait and the
/// work (never longer than `max_queue_wait`), and is refused at once when it does not: a quick
/// refusal, with a hint of when to come back, before any of its work is done.
///
/// ```
/// # use std::time::Duration;
/// # use rust_svc_runtime::rpc::LoadShedding;
/// const SHEDDING: LoadShedding = LoadShedding::DEFAULT
///     .max_limit(200)
///     .max_queue_wait(Duration::from_millis(250));
/// assert!(SHEDDING.enabled);
/// assert!(!LoadShedding::OFF.enabled);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct LoadShedding {
    /// Whether calls are limited at all; off, every call is admitted at once.
    pub enabled: bool,
    /// The limit before any latency has been seen.
    pub initial_limit: u32,
    /// The limit never falls below this.
    pub min_limit: u32,
    /// The limit never grows past this.
    pub max_limit: u32,
    /// How many times the long-run latency the recent latency may reach before the limit
    /// falls: 2.0 lets latency double under load (Netflix's `Gradient2` defaults to 1.5,
    /// Envoy's adaptive concurrency filter to a 25 % buffer). At least 1.0, as `Gradient2`
    /// requires and the generator checks: a server reads less (or NaN) as 1.0, since below it
    /// the limit would fall under steady latency.
    pub tolerance: f64,
    /// The longest a call waits in line for a slot, whatever its deadline; a call without a
    /// deadline waits at most this.
    pub max_queue_wait: Duration,
}

impl LoadShedding {
    /// On, from 20 calls at once, between 4 and 1,000, latency allowed to double, a wait in
    /// line as long as the call's deadline allows and two seconds at most.
    pub const DEFAULT: Self = Self {
        enabled: true,
        initial_limit: 20,
        min_limit: 4,
        max_limit: 1000,
        tolerance: 2.0,
        max_queue_wait: Duration::from_secs(2),
    };

    /// Every call admitted at once, nothing measured.
    pub const OFF: Self = Self::DEFAULT.enabled(false);

    /// Sets [`enabled`](Self::enabled).
    #[must_use]
    pub const fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Sets [`initial_limit`](Self::initial_limit).
    #[must_use]
    pub const fn initial_limit(mut self, limit: u32) -> Self {
        self.initial_limit = limit;
        self
    }

    /// Sets [`min_limit`](Self::min_limit).
    #[must_use]
    pub const fn min_limit(mut self, limit: u32) -> Self {
        self.min_limit = limit;
        self
    }

    /// Sets [`max_limit`](Self::max_limit).
    #[must_use]
    pub const fn max_limit(mut self, limit: u32) -> Self {
        self.max_limit = limit;
        self
    }

    /// Sets [`tolerance`](Self::tolerance).
    #[must_use]
    pub const fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Sets [`max_queue_wait`](Self::max_queue_wait).
    #[must_use]
    pub const fn max_queue_wait(mut self, wait: Duration) -> Self {
        self.max_queue_wait = wait;
        self
    }

    /// The policy a server carries out: [`tolerance`](Self::tolerance) at least 1.0.
    pub(crate) fn sanitized(mut self) -> Self {
        // `max` also turns NaN into 1.0.
        self.tolerance = self.tolerance.max(1.0);
        self
    }
}

impl Default for LoadShedding {
    fn default() -> Self {
        Self::DEFAULT
    }
}
