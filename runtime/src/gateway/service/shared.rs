//! The gateway's routes on paths tonic's routes take too (an HTTP rule on its rpc's own gRPC
//! path): what a `Host` port and [`Gateway::with_grpc`] ask of the route table.

use http::Method;

use super::super::routed::Gateway;

impl Gateway {
    /// The routes whose template is a plain path (no variable, no wildcard), as (method,
    /// path): what a port checks against the paths its gRPC router takes (host/port.rs).
    pub(crate) fn literal_routes(&self) -> Vec<(Method, String)> {
        self.inner
            .table
            .iter()
            .filter(|(_, template, _)| {
                template
                    .segments()
                    .iter()
                    .all(|segment| matches!(segment, rust_svc_http_template::Segment::Literal(_)))
            })
            .filter_map(|(method, template, _)| {
                Some((
                    Method::from_bytes(method.as_bytes()).ok()?,
                    template.as_str().to_owned(),
                ))
            })
            .collect()
    }

    /// The plain paths of routes that lie under one of the gateway's own services' gRPC
    /// paths (`/pkg.Service/…`), each once: where tonic's routes for that service take
    /// requests too.
    pub(in crate::gateway) fn grpc_service_paths(&self) -> Vec<String> {
        let services: Vec<&str> = self
            .inner
            .table
            .iter()
            .filter_map(|(_, _, entry)| grpc_service(entry.route.method.path))
            .collect();
        let mut paths: Vec<String> = self
            .literal_routes()
            .into_iter()
            .map(|(_, path)| path)
            .filter(|path| grpc_service(path).is_some_and(|service| services.contains(&service)))
            .collect();
        paths.sort_unstable();
        paths.dedup();
        paths
    }
}

/// The service of a gRPC path, `pkg.Service` of `/pkg.Service/Method`; `None` for a path of
/// another shape.
fn grpc_service(path: &str) -> Option<&str> {
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    (service.contains('.') && !method.is_empty() && !method.contains(['/', ':'])).then_some(service)
}
