//! Which endpoint an attempt goes to, among those of a client ([`LoadBalancing`]): gRPC's
//! `round_robin`, `pick_first` and `least_request` (gRFC A48). Whatever the policy, an endpoint
//! whose breaker turns the call away, that asked for a pause, or that outlier detection ejected
//! is passed over for the next in the policy's order, and a retry prefers an endpoint the call
//! has not tried (see `endpoints.rs`).

use std::sync::atomic::{AtomicUsize, Ordering};

/// How a client spreads its calls over its endpoints (a URL list's servers, or a name's
/// addresses). Built, not written as a literal, so that new policies are not a breaking change:
/// `LoadBalancing::least_request()`, `LoadBalancing::round_robin()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadBalancing {
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    RoundRobin,
    PickFirst,
    LeastRequest { choices: usize },
}

impl Default for LoadBalancing {
    fn default() -> Self {
        Self::round_robin()
    }
}

impl LoadBalancing {
    /// Each attempt to the next endpoint in turn (the default): an even share of the calls
    /// for each, whatever they cost.
    pub const fn round_robin() -> Self {
        Self {
            kind: Kind::RoundRobin,
        }
    }

    /// Every attempt to the first endpoint (in the order of the URL list or the resolver's
    /// answer) that takes it; the next ones only when it does not (its breaker, a pause, an
    /// ejection) or for a retry. gRPC's default: one connection in use, for a target that is
    /// one server behind a load balancer of its own.
    pub const fn pick_first() -> Self {
        Self {
            kind: Kind::PickFirst,
        }
    }

    /// gRFC A48: each attempt draws two endpoints at random and goes to the one with fewer
    /// calls in flight, so that a slow endpoint, whose calls pile up, gets fewer new ones.
    pub const fn least_request() -> Self {
        Self {
            kind: Kind::LeastRequest { choices: 2 },
        }
    }

    /// For `least_request`, how many endpoints are drawn (2 to 10, as gRFC A48 bounds
    /// `choice_count`); no effect on the other policies.
    #[must_use]
    pub const fn choice_count(self, count: usize) -> Self {
        let count = if count < 2 {
            2
        } else if count > 10 {
            10
        } else {
            count
        };
        match self.kind {
            Kind::LeastRequest { .. } => Self {
                kind: Kind::LeastRequest { choices: count },
            },
            _ => self,
        }
    }

    /// Whether the policy reads the endpoints' calls in flight, which are then counted.
    pub(super) fn reads_in_flight(self) -> bool {
        matches!(self.kind, Kind::LeastRequest { .. })
    }

    /// The indices of `count` endpoints in the order this policy tries them for one attempt:
    /// `next` is the client's turn counter, `in_flight` an endpoint's calls in flight.
    pub(super) fn order(
        self,
        count: usize,
        next: &AtomicUsize,
        in_flight: impl Fn(usize) -> usize,
    ) -> Order {
        let mut order = Order {
            count,
            start: 0,
            sample: [0; MAX_CHOICES],
            sampled: 0,
            position: 0,
        };
        match self.kind {
            Kind::PickFirst => {}
            Kind::RoundRobin => {
                if count > 1 {
                    order.start = next.fetch_add(1, Ordering::Relaxed) % count;
                }
            }
            Kind::LeastRequest { choices } => {
                // A random sample of distinct endpoints, sorted by calls in flight; the rest
                // follow from a random place, for when the sample's turn the call away.
                let sampled = choices.min(count);
                while order.sampled < sampled {
                    let drawn = fastrand::usize(..count);
                    if !order.sample[..order.sampled].contains(&drawn) {
                        order.sample[order.sampled] = drawn;
                        order.sampled += 1;
                    }
                }
                order.sample[..sampled].sort_by_key(|&index| in_flight(index));
                if count > 0 {
                    order.start = fastrand::usize(..count);
                }
            }
        }
        order
    }
}

/// The most endpoints `least_request` draws (gRFC A48's bound on `choice_count`).
const MAX_CHOICES: usize = 10;

/// The order of one attempt's candidates (see [`LoadBalancing::order`]): the sample first, then
/// every other endpoint from `start` on. Copied to walk it twice (untried endpoints first).
#[derive(Debug, Clone, Copy)]
pub(super) struct Order {
    count: usize,
    start: usize,
    sample: [usize; MAX_CHOICES],
    sampled: usize,
    position: usize,
}

impl Iterator for Order {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        while self.position < self.sampled + self.count {
            let position = self.position;
            self.position += 1;
            if position < self.sampled {
                return Some(self.sample[position]);
            }
            let index = (self.start + position - self.sampled) % self.count;
            if !self.sample[..self.sampled].contains(&index) {
                return Some(index);
            }
        }
        None
    }
}

/// Counts an attempt among its endpoint's calls in flight while it lives.
pub(super) struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    pub(super) fn start(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_policy_orders_the_endpoints_its_way() {
        let next = AtomicUsize::new(0);
        let order = |policy: LoadBalancing, loads: &[usize]| -> Vec<usize> {
            policy
                .order(loads.len(), &next, |index| loads[index])
                .collect()
        };
        assert_eq!(order(LoadBalancing::pick_first(), &[0; 3]), [0, 1, 2]);
        let round_robin = LoadBalancing::round_robin();
        assert_eq!(order(round_robin, &[0; 3]), [0, 1, 2]);
        assert_eq!(order(round_robin, &[0; 3]), [1, 2, 0]);
        assert_eq!(order(round_robin, &[0; 3]), [2, 0, 1]);
        assert_eq!(order(round_robin, &[]), Vec::<usize>::new());

        // Least request: of the two drawn, the one with fewer calls in flight first; with
        // every endpoint drawn, strictly by calls in flight.
        let loads = [5, 0, 9];
        let least = LoadBalancing::least_request().choice_count(3);
        for _ in 0..20 {
            assert_eq!(order(least, &loads), [1, 0, 2]);
        }
        let two = LoadBalancing::least_request();
        for _ in 0..50 {
            let order = order(two, &loads);
            assert!(loads[order[0]] <= loads[order[1]], "{order:?}");
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, [0, 1, 2], "every endpoint once");
        }
        assert_eq!(
            LoadBalancing::least_request().choice_count(50),
            LoadBalancing::least_request().choice_count(10)
        );
        assert_eq!(
            LoadBalancing::round_robin().choice_count(3),
            LoadBalancing::round_robin()
        );
    }
}
