//! Targets named rather than listed: `dns:///inventory-headless:50051` resolves to every
//! address the name has, and keeps resolving while the client runs, so that the client follows
//! a fleet that scales, moves and rolls over without being told.
//!
//! A [`Resolve`] turns a [`Target`] into addresses: [`Dns`] for `dns:` targets (the system's
//! resolver, `getaddrinfo`: A and AAAA records, `/etc/hosts`, what `/etc/resolv.conf` says; or
//! the DNS server the target names), or one of the caller's for its own discovery (Consul, a file; see
//! [`ClientBuilder::resolver`](super::ClientBuilder::resolver)). The client resolves the
//! target when it is built, again every refresh period (30 s by default,
//! [`ClientBuilder::resolve_every`](super::ClientBuilder::resolve_every)), and again soon after
//! a connection to one of its addresses fails or ends; each time the set of addresses changed,
//! the new set is put in force at once: a new address gets calls as soon as it connects, an
//! address that went away finishes the calls it has and gets no new ones.
//!
//! Why a refresh period as well as re-resolving on failure: grpc-go re-resolves only when a
//! connection fails, which sees addresses go but never sees new ones come (scale-out waits for
//! the servers' maximum connection age to close connections); Envoy's `STRICT_DNS` clusters
//! resolve every 5 s whatever happens. 30 s keeps a scale-out visible within half a minute at
//! one query per client per half minute, and a failure still re-resolves within a second.
//!
//! A resolution that fails, or answers no address, leaves the set as it is (the servers that
//! were there are still the best guess), and is tried again at the next occasion; calls made
//! before the first answer wait for it, within their deadline.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::connect::BoxError;

mod query;

/// How often a resolved target is resolved again when nothing happens.
pub(super) const DEFAULT_REFRESH: Duration = Duration::from_secs(30);

/// How soon after a failed or ended connection the target is resolved again, at most once per
/// this long: a server restarting makes every connection to it fail at once.
const AFTER_FAILURE: Duration = Duration::from_secs(1);

/// What a client was asked to call by name: `scheme:[//authority]/host[:port]`, such as
/// `dns:///inventory-headless:50051`, `dns:inventory:50051` or `consul:///orders`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Target {
    text: String,
    scheme: String,
    authority: String,
    host: String,
    port: Option<u16>,
}

impl Target {
    /// Reads a target; `None` when `text` has no scheme, or a scheme of a URL (`http`,
    /// `https`), or no host.
    pub fn parse(text: &str) -> Option<Self> {
        let (scheme, rest) = text.split_once(':')?;
        let valid_scheme = !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !valid_scheme || matches!(scheme, "http" | "https") {
            return None;
        }
        // `dns:///name` and `dns://server/name`, or gRPC's short `dns:name`.
        let (authority, endpoint) = match rest.strip_prefix("//") {
            Some(rest) => rest.split_once('/')?,
            None => ("", rest),
        };
        let (host, port) = split_host_port(endpoint)?;
        Some(Self {
            text: text.to_owned(),
            scheme: scheme.to_ascii_lowercase(),
            authority: authority.to_owned(),
            host: host.to_owned(),
            port,
        })
    }

    /// The scheme, lowercased: `dns`, or a resolver's own.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The authority between `//` and the name (for `dns:`, a DNS server to ask); empty for
    /// `dns:///name`.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The name to resolve, without brackets around an IPv6 address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port the target names, if it names one.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The port the target names, or 443 when it names none (gRPC's default).
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(443)
    }

    /// The target as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(endpoint: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = endpoint.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            after => Some((host, Some(after.strip_prefix(':')?.parse().ok()?))),
        };
    }
    let (host, port) = match endpoint.rsplit_once(':') {
        Some((host, port)) => (host, Some(port.parse().ok()?)),
        None => (endpoint, None),
    };
    (!host.is_empty() && !host.contains(['/', ':'])).then_some((host, port))
}

/// What a resolution answers: the addresses, or why there are none.
pub type Resolution = Pin<Box<dyn Future<Output = Result<Vec<SocketAddr>, BoxError>> + Send>>;

/// Turns a [`Target`] into the addresses of its servers now. Called when the client is built,
/// on its refresh period, and after a connection fails; the client puts the answer in force
/// when it differs from the last.
///
/// ```
/// use std::net::SocketAddr;
/// use rust_svc_runtime::client::{Resolution, Resolve, Target};
///
/// /// Discovery from a file of `ip:port` lines, read again at each resolution.
/// struct AddressFile(std::path::PathBuf);
///
/// impl Resolve for AddressFile {
///     fn resolve(&self, _target: &Target) -> Resolution {
///         let path = self.0.clone();
///         Box::pin(async move {
///             let text = tokio::fs::read_to_string(path).await?;
///             let addresses = text
///                 .lines()
///                 .filter(|line| !line.trim().is_empty())
///                 .map(|line| line.trim().parse::<SocketAddr>())
///                 .collect::<Result<Vec<_>, _>>()?;
///             Ok(addresses)
///         })
///     }
/// }
/// ```
///
/// With `ClientBuilder::resolver(AddressFile(path))`, a target such as `file:///inventory`
/// is called at the file's addresses.
pub trait Resolve: Send + Sync + 'static {
    /// The addresses `target` names now.
    fn resolve(&self, target: &Target) -> Resolution;
}

/// `dns:` targets: `dns:///name:port` with the system's resolver (`getaddrinfo`, through
/// tokio: every A and AAAA address, `/etc/hosts`, the servers `/etc/resolv.conf` names), and
/// `dns://server/name:port` by asking `server` directly (an IP, with `:port` when not 53), as
/// gRPC's DNS resolver reads a target's authority. The port is the target's, 443 when it
/// names none (gRPC's default).
#[derive(Debug, Clone, Copy, Default)]
pub struct Dns;

impl Resolve for Dns {
    fn resolve(&self, target: &Target) -> Resolution {
        let target = target.clone();
        Box::pin(async move {
            let port = target.port_or_default();
            // Sorted and deduplicated by the resolution task, as every resolver's answer is.
            if target.authority().is_empty() {
                Ok(tokio::net::lookup_host((target.host(), port))
                    .await?
                    .collect())
            } else {
                query::ask(target.authority(), target.host(), port).await
            }
        })
    }
}

/// What the resolution task needs to keep a client's endpoints in step with its target.
pub(super) struct Follow {
    pub(super) target: Target,
    pub(super) resolver: Arc<dyn Resolve>,
    pub(super) refresh: Duration,
    /// Told by the endpoints' connections when one fails or ends.
    pub(super) failures: Arc<Notify>,
}

/// Where a resolution's answer goes: the client's endpoint set.
pub(super) trait Follower: Send + Sync + 'static {
    /// Whether the client is still there to follow for.
    fn alive(&self) -> bool;

    /// Puts `addresses` (sorted, distinct, not empty) in force.
    fn put_in_force(&self, addresses: &[SocketAddr]);
}

/// Whether the target has been resolved once yet: calls wait for the first answer.
pub(super) type FirstAnswer = watch::Receiver<bool>;

impl Follow {
    /// Starts following the target in a task of its own, which ends when `follower` says the
    /// client is gone.
    pub(super) fn spawn(self, follower: impl Follower) -> FirstAnswer {
        let (answered, first) = watch::channel(false);
        tokio::spawn(self.run(follower, answered));
        first
    }

    async fn run(self, follower: impl Follower, answered: watch::Sender<bool>) {
        let mut in_force: Vec<SocketAddr> = Vec::new();
        loop {
            match self.resolver.resolve(&self.target).await {
                Ok(mut addresses) if !addresses.is_empty() => {
                    addresses.sort_unstable();
                    addresses.dedup();
                    if !follower.alive() {
                        return;
                    }
                    if addresses != in_force {
                        follower.put_in_force(&addresses);
                        tracing::info!(
                            target = %self.target,
                            addresses = ?addresses,
                            "the client calls the addresses its target resolved to",
                        );
                        metrics::gauge!("grpc_client_endpoints", "target" => self.target.to_string())
                            .set(addresses.len() as f64);
                        in_force = addresses;
                    }
                }
                Ok(_) => tracing::warn!(
                    target = %self.target,
                    "the target resolved to no address; the client keeps calling the ones it had",
                ),
                Err(error) => tracing::warn!(
                    target = %self.target,
                    error = %error,
                    "the target did not resolve; the client keeps calling the addresses it had",
                ),
            }
            // Calls waiting for a first answer go on either way: with the addresses, or
            // failing for want of any.
            answered.send_replace(true);
            tokio::select! {
                () = tokio::time::sleep(self.refresh) => {}
                () = self.failures.notified() => {
                    tokio::time::sleep(AFTER_FAILURE).await;
                }
            }
            if !follower.alive() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_read_as_grpc_names_them() {
        let target = Target::parse("dns:///inventory-headless:50051").unwrap();
        assert_eq!(
            (
                target.scheme(),
                target.authority(),
                target.host(),
                target.port()
            ),
            ("dns", "", "inventory-headless", Some(50051))
        );
        let target = Target::parse("dns://10.0.0.2:53/inventory:50051").unwrap();
        assert_eq!(
            (target.authority(), target.host()),
            ("10.0.0.2:53", "inventory")
        );
        let target = Target::parse("dns:inventory").unwrap();
        assert_eq!((target.host(), target.port()), ("inventory", None));
        let target = Target::parse("DNS:///[::1]:50051").unwrap();
        assert_eq!((target.scheme(), target.host()), ("dns", "::1"));
        assert_eq!(target.port(), Some(50051));
        assert_eq!(target.to_string(), "DNS:///[::1]:50051");
        let target = Target::parse("consul:///orders").unwrap();
        assert_eq!((target.scheme(), target.host()), ("consul", "orders"));
        for refused in [
            "http://a:1",
            "https://a",
            "dns:///",
            "dns:///a:port",
            "dns:///a:1:2",
            "no-scheme",
            ":///a",
            "dns:///[::1",
        ] {
            assert_eq!(Target::parse(refused), None, "{refused}");
        }
    }

    #[tokio::test]
    async fn the_system_resolver_answers_every_address_of_a_name() {
        let target = Target::parse("dns:///localhost:50051").unwrap();
        let addresses = Dns.resolve(&target).await.unwrap();
        assert!(!addresses.is_empty());
        assert!(addresses.iter().all(|address| address.ip().is_loopback()));
        assert!(addresses.iter().all(|address| address.port() == 50051));
    }

    #[tokio::test]
    async fn a_dns_server_in_the_target_is_asked_directly() {
        use simple_dns::rdata::{A, RData};
        use simple_dns::{CLASS, Name, Packet, ResourceRecord};
        // A DNS server of two lines: every A question gets 127.0.0.7 and 127.0.0.8, every
        // other question no record.
        let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let at = server.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buffer = [0; 512];
            loop {
                let (read, from) = server.recv_from(&mut buffer).await.unwrap();
                let question = Packet::parse(&buffer[..read]).unwrap();
                let name = question.questions[0].qname.to_string();
                let wants_a =
                    question.questions[0].qtype == simple_dns::QTYPE::TYPE(simple_dns::TYPE::A);
                let mut reply = question.into_reply();
                if wants_a {
                    for last in [7, 8] {
                        reply.answers.push(ResourceRecord::new(
                            Name::new_unchecked(&name).into_owned(),
                            CLASS::IN,
                            1,
                            RData::A(A {
                                address: u32::from(std::net::Ipv4Addr::new(127, 0, 0, last)),
                            }),
                        ));
                    }
                }
                let bytes = reply.build_bytes_vec().unwrap();
                server.send_to(&bytes, from).await.unwrap();
            }
        });
        let target = Target::parse(&format!("dns://{at}/inventory.test:50051")).unwrap();
        let addresses = Dns.resolve(&target).await.unwrap();
        assert_eq!(
            addresses,
            [
                SocketAddr::from(([127, 0, 0, 7], 50051)),
                SocketAddr::from(([127, 0, 0, 8], 50051))
            ]
        );
    }
}
