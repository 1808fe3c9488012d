//! Hops: what each server on a call's path saw of it (the rpc, the request id, the deadline
//! left when the call reached it), reported back to the caller in the response headers.
//!
//! Each server stamps its own hop (`x-hop`) with [`StampHop`], in its server stack after the
//! request id is known. A server that calls others collects their hops with [`CollectHops`] on
//! its client stacks and appends them to its own response, after its own hop, in the order the
//! calls were made. So the caller of `CreateOrder` reads the whole path of its call (orders,
//! then inventory, then dispatch) from one response, whatever the depth, over gRPC as
//! `x-hop` metadata and over REST as `Grpc-Metadata-X-Hop` headers.
//!
//! Why headers rather than logs to join by request id: the demo (and a test) sees the path
//! of the very call it made, without access to the servers' logs.

use std::fmt;
use std::time::Duration;

use rust_svc_runtime::interceptors::request_id::request_id;
use rust_svc_runtime::interceptors::{CallInfo, Finish, Interceptor, Side};
use rust_svc_runtime::{Context, Status};
use tonic::metadata::{AsciiMetadataValue, MetadataMap};

/// The response metadata key of the hops, one value per hop.
pub const HOP_HEADER: &str = "x-hop";

/// What one server saw of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// The rpc's full name, `inventory.v1.InventoryService/ReserveItems`.
    pub rpc: String,
    /// The time left until the call's deadline when it reached the server; `None` without one.
    pub deadline_left: Option<Duration>,
    /// The call's request id, as the server's request-id interceptor settled it.
    pub request_id: Option<String>,
}

impl Hop {
    /// The service's short name: the first component of its package (`inventory` for
    /// `inventory.v1.InventoryService/…`), which is how the example system names its parts.
    pub fn service(&self) -> &str {
        self.rpc.split(['.', '/']).next().unwrap_or(&self.rpc)
    }

    /// The header value: `rpc=…;deadline-left-ms=…;request-id=…`. The request id goes last
    /// because it is the only part a caller chooses: any printable ASCII, `;` included, so
    /// [`Hop::parse`] takes the rest of the value for it.
    pub fn to_header_value(&self) -> String {
        let deadline = self
            .deadline_left
            .map_or_else(|| "none".to_owned(), |left| left.as_millis().to_string());
        let request_id = self.request_id.as_deref().unwrap_or("");
        format!(
            "rpc={};deadline-left-ms={deadline};request-id={request_id}",
            self.rpc
        )
    }

    /// Reads a header value written by [`Hop::to_header_value`]; `None` for anything else.
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.splitn(3, ';');
        let rpc = parts.next()?.strip_prefix("rpc=")?;
        let deadline = parts.next()?.strip_prefix("deadline-left-ms=")?;
        let request_id = parts.next()?.strip_prefix("request-id=")?;
        let deadline_left = match deadline {
            "none" => None,
            millis => Some(Duration::from_millis(millis.parse().ok()?)),
        };
        Some(Self {
            rpc: rpc.to_owned(),
            deadline_left,
            request_id: (!request_id.is_empty()).then(|| request_id.to_owned()),
        })
    }

    /// The hops in `metadata`, in order; values that are not hops are skipped.
    pub fn all_in(metadata: &MetadataMap) -> Vec<Self> {
        metadata
            .get_all(HOP_HEADER)
            .iter()
            .filter_map(|value| Self::parse(value.to_str().ok()?))
            .collect()
    }
}

/// The demo's line: `orders     request-id=… deadline-left=1998ms rpc=…`, the service name
/// padded so that the columns line up.
impl fmt::Display for Hop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let request_id = self.request_id.as_deref().unwrap_or("none");
        write!(f, "{:<10} request-id={request_id} ", self.service())?;
        match self.deadline_left {
            Some(left) => write!(f, "deadline-left={}ms", left.as_millis())?,
            None => f.write_str("deadline-left=none")?,
        }
        write!(f, " rpc={}", self.rpc)
    }
}

/// A server interceptor that stamps the call's [`Hop`] into its response headers. Put it
/// after `RequestIds`, whose id it reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct StampHop;

impl Interceptor for StampHop {
    fn start(&self, call: &CallInfo, ctx: &mut Context) -> Result<Finish, Status> {
        if call.side == Side::Server {
            let hop = Hop {
                rpc: call.method.full_name().to_owned(),
                deadline_left: ctx.remaining(),
                request_id: request_id(ctx).map(|id| id.as_str().to_owned()),
            };
            // Printable ASCII by construction (the rpc name, digits, a sane request id); a hop
            // that somehow is not is left out rather than failing the call it describes.
            if let Ok(value) = AsciiMetadataValue::try_from(hop.to_header_value()) {
                ctx.response().headers().append(HOP_HEADER, value);
            }
        }
        Ok(Finish::nothing())
    }
}

/// A client interceptor that appends the hops a downstream server answered to the response
/// of the call being served. Put it first in the client stack, so that the interceptors after
/// it work on the context it substitutes.
///
/// The generated client does not record a downstream response in a context a server made
/// (so a handler passing its own context on does not answer with its dependency's headers),
/// so this makes the call with [`Context::child`] instead (same deadline and propagated
/// headers, its own response cell), then copies over the hops alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct CollectHops;

impl Interceptor for CollectHops {
    fn start(&self, call: &CallInfo, ctx: &mut Context) -> Result<Finish, Status> {
        if call.side != Side::Client {
            return Ok(Finish::nothing());
        }
        let served = ctx.response().clone();
        // `child` starts with no outgoing metadata; what the handler attached still goes out.
        let outgoing = ctx.outgoing_metadata().clone();
        *ctx = ctx.child().with_outgoing_metadata(outgoing);
        Ok(Finish::with(move |outcome| {
            // Copied out first: `served` and the child's response are two locks.
            let hops: Vec<_> = outcome
                .ctx
                .response()
                .headers()
                .get_all(HOP_HEADER)
                .iter()
                .cloned()
                .collect();
            let mut headers = served.headers();
            for hop in hops {
                headers.append(HOP_HEADER, hop);
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(rpc: &str, deadline_left: Option<u64>, request_id: Option<&str>) -> Hop {
        Hop {
            rpc: rpc.to_owned(),
            deadline_left: deadline_left.map(Duration::from_millis),
            request_id: request_id.map(str::to_owned),
        }
    }

    #[test]
    fn header_values_round_trip() {
        for original in [
            hop(
                "orders.v1.OrderService/CreateOrder",
                Some(1998),
                Some("0190-ab"),
            ),
            hop(
                "inventory.v1.InventoryService/ReserveItems",
                None,
                Some("a;b=c"),
            ),
            hop("dispatch.v1.DispatchService/RequestCourier", Some(0), None),
        ] {
            let value = original.to_header_value();
            assert_eq!(Hop::parse(&value), Some(original), "{value}");
        }
    }

    #[test]
    fn other_values_are_not_hops() {
        for value in [
            "",
            "rpc=a",
            "rpc=a;deadline-left-ms=soon;request-id=x",
            "deadline-left-ms=1;rpc=a;request-id=x",
        ] {
            assert_eq!(Hop::parse(value), None, "{value}");
        }
    }

    #[test]
    fn lines_name_the_service_and_line_up() {
        let lines = [
            hop("orders.v1.OrderService/CreateOrder", Some(1998), Some("r1")),
            hop(
                "inventory.v1.InventoryService/ReserveItems",
                Some(1990),
                Some("r1"),
            ),
            hop("dispatch.v1.DispatchService/RequestCourier", None, None),
        ]
        .map(|hop| hop.to_string());
        assert_eq!(
            lines,
            [
                "orders     request-id=r1 deadline-left=1998ms rpc=orders.v1.OrderService/CreateOrder",
                "inventory  request-id=r1 deadline-left=1990ms rpc=inventory.v1.InventoryService/ReserveItems",
                "dispatch   request-id=none deadline-left=none rpc=dispatch.v1.DispatchService/RequestCourier",
            ]
        );
    }
}
