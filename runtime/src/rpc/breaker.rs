//! Circuit breaker settings, as options.proto and the client builder set them. Data only: the
//! client's breakers carry them out.

use std::time::Duration;

/// How a method's circuit breaker decides to fail calls fast.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BreakerPolicy {
    /// No breaker: every call goes to the network.
    Disabled,
    /// Failure rate over a count-based sliding window (the default model).
    SlidingWindow(SlidingWindow),
    /// Client-side adaptive throttling from the Google SRE book.
    Adaptive(Adaptive),
}

impl BreakerPolicy {
    /// The built-in breaker when options.proto sets none.
    pub const DEFAULT: Self = Self::SlidingWindow(SlidingWindow::DEFAULT);
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl From<SlidingWindow> for BreakerPolicy {
    fn from(settings: SlidingWindow) -> Self {
        Self::SlidingWindow(settings)
    }
}

impl From<Adaptive> for BreakerPolicy {
    fn from(settings: Adaptive) -> Self {
        Self::Adaptive(settings)
    }
}

/// Settings of the sliding-window breaker (resilience4j's model).
///
/// - **Closed → open** when, over the window (the last `window_size` calls, or the calls of the
///   last `window_duration`) holding at least `minimum_calls`, the failure rate reaches
///   `failure_rate_threshold` or the rate of calls slower than `slow_call_duration` reaches
///   `slow_call_rate_threshold`.
/// - **Open → half-open** after the open wait: `open_duration`, times
///   `open_duration_multiplier` for each re-opening since the breaker last closed, up to
///   `max_open_duration`.
/// - **Half-open** lets `half_open_max_calls` probes through and rejects other calls while
///   they run; once all have answered, their failure and slow-call rates decide: open again at
///   the thresholds, closed below. Probes that take longer than `half_open_max_wait` to decide
///   open it again.
/// - **Closed, counted afresh** every `counting_interval` when one is set (gobreaker's
///   `Interval`): the window is cleared and calls admitted before are not counted.
///
/// The state follows the clock: an open breaker reads half-open as soon as its wait ends, and a
/// half-open one past `half_open_max_wait` reads open, whether or not a call came.
///
/// Start from [`SlidingWindow::DEFAULT`] (or `default()`) and change what you need with the
/// setters, which work in a `const` too; more settings may come.
///
/// ```
/// # use std::time::Duration;
/// # use rust_svc_runtime::client::SlidingWindow;
/// const PAYMENTS: SlidingWindow = SlidingWindow::DEFAULT
///     .failure_rate_threshold(0.25)
///     .window_size(50)
///     .open_duration(Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SlidingWindow {
    /// Failure rate in `(0, 1]` at which the breaker opens.
    pub failure_rate_threshold: f64,
    /// Calls in a count-based window.
    pub window_size: u32,
    /// Calls recorded before the rates are judged (in a count-based window, at most
    /// `window_size` of them, as in resilience4j).
    pub minimum_calls: u32,
    /// How long the breaker stays open the first time.
    pub open_duration: Duration,
    /// Probe calls let through while half-open.
    pub half_open_max_calls: u32,
    /// A time-based window instead: the calls of this last stretch of time (kept in ten
    /// buckets), however many. `None`: the last `window_size` calls.
    pub window_duration: Option<Duration>,
    /// Calls that take longer than this count as slow, as in resilience4j. `None`: no slow-call
    /// rate.
    pub slow_call_duration: Option<Duration>,
    /// Slow-call rate in `(0, 1]` at which the breaker opens.
    pub slow_call_rate_threshold: f64,
    /// How long half-open may wait for its probes before opening again. `None`: no bound.
    pub half_open_max_wait: Option<Duration>,
    /// Growth of the open wait with each re-opening since the breaker last closed; 1 keeps it
    /// fixed.
    pub open_duration_multiplier: f64,
    /// The longest open wait it may grow to.
    pub max_open_duration: Duration,
    /// Clears the closed state's counts this often (gobreaker's `Interval`). `None`: the window
    /// alone decides what is counted.
    pub counting_interval: Option<Duration>,
    /// Opens again at the first failed probe, without waiting for the others to answer, as
    /// gobreaker, Polly and Hystrix do. `false`: once every probe has answered, their failure
    /// (and slow-call) rate decides against the thresholds, as in resilience4j.
    pub reopen_on_probe_failure: bool,
}

impl SlidingWindow {
    /// The defaults options.proto documents.
    pub const DEFAULT: Self = Self {
        failure_rate_threshold: 0.5,
        window_size: 100,
        minimum_calls: 10,
        open_duration: Duration::from_secs(30),
        half_open_max_calls: 5,
        window_duration: None,
        slow_call_duration: None,
        slow_call_rate_threshold: 1.0,
        half_open_max_wait: None,
        open_duration_multiplier: 1.0,
        max_open_duration: Duration::from_secs(30),
        counting_interval: None,
        reopen_on_probe_failure: false,
    };
}

/// `const` setters, one per field, named after it.
macro_rules! setters {
    ($type:ty { $($(#[$doc:meta])* $field:ident: $value:ty,)* }) => {
        impl $type {
            $(
                $(#[$doc])*
                #[must_use]
                pub const fn $field(mut self, $field: $value) -> Self {
                    self.$field = $field;
                    self
                }
            )*
        }
    };
}

setters!(SlidingWindow {
    /// Sets [`failure_rate_threshold`](Self::failure_rate_threshold).
    failure_rate_threshold: f64,
    /// Sets [`window_size`](Self::window_size).
    window_size: u32,
    /// Sets [`minimum_calls`](Self::minimum_calls).
    minimum_calls: u32,
    /// Sets [`open_duration`](Self::open_duration).
    open_duration: Duration,
    /// Sets [`half_open_max_calls`](Self::half_open_max_calls).
    half_open_max_calls: u32,
    /// Sets [`window_duration`](Self::window_duration).
    window_duration: Option<Duration>,
    /// Sets [`slow_call_duration`](Self::slow_call_duration).
    slow_call_duration: Option<Duration>,
    /// Sets [`slow_call_rate_threshold`](Self::slow_call_rate_threshold).
    slow_call_rate_threshold: f64,
    /// Sets [`half_open_max_wait`](Self::half_open_max_wait).
    half_open_max_wait: Option<Duration>,
    /// Sets [`open_duration_multiplier`](Self::open_duration_multiplier).
    open_duration_multiplier: f64,
    /// Sets [`max_open_duration`](Self::max_open_duration).
    max_open_duration: Duration,
    /// Sets [`counting_interval`](Self::counting_interval).
    counting_interval: Option<Duration>,
    /// Sets [`reopen_on_probe_failure`](Self::reopen_on_probe_failure).
    reopen_on_probe_failure: bool,
});

impl Default for SlidingWindow {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Settings of adaptive throttling: over the last `window`, a call is rejected locally with
/// probability `max(0, (requests − k × accepts) / (requests + 1))`, where `accepts` counts calls
/// the dependency answered without a dependency failure.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Adaptive {
    /// The multiplier `k`; 2 is the SRE book's recommendation. Lower is more aggressive.
    pub k: f64,
    /// How far back requests and accepts are counted.
    pub window: Duration,
    /// Requests the window must hold before any is rejected, so that the first failures of a
    /// quiet client do not reject its next calls.
    pub minimum_requests: u32,
}

impl Adaptive {
    /// `k = 2` over two minutes, as in the SRE book, rejecting nothing before 10 requests.
    pub const DEFAULT: Self = Self {
        k: 2.0,
        window: Duration::from_secs(120),
        minimum_requests: 10,
    };
}

setters!(Adaptive {
    /// Sets [`k`](Self::k).
    k: f64,
    /// Sets [`window`](Self::window).
    window: Duration,
    /// Sets [`minimum_requests`](Self::minimum_requests).
    minimum_requests: u32,
});

impl Default for Adaptive {
    fn default() -> Self {
        Self::DEFAULT
    }
}
