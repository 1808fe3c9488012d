//! The configuration: every setting is a flag, and an environment variable for deployments.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// {% for service in project.services %}{{ service.full_name }}{% if loop.last %}{% else %}, {% endif %}{% endfor %} over gRPC, gRPC-Web and REST/JSON.
///
/// One port serves the gRPC services, their REST gateway, gRPC-Web, grpc.health.v1 health,
/// server reflection and Prometheus metrics at /metrics. SIGINT and SIGTERM drain the calls in
/// flight before the process exits.
#[derive(Debug, Clone, Parser)]
#[command(name = "{{ project.name }}", version)]
pub struct Config {
    /// The address to serve on.
    #[arg(long, env = "LISTEN", value_name = "ADDR", default_value = "0.0.0.0:{{ project.port }}")]
    pub listen: SocketAddr,
    /// The log format: `text` for people, `json` for log collectors. `RUST_LOG` filters the
    /// logs (`info` by default).
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Production mode: server reflection is off, so the API is not listed to whoever asks.
    #[arg(long, env = "PRODUCTION")]
    pub production: bool,
    /// The PEM certificate chain to serve TLS with (with --tls-key); plain text without it.
    #[cfg(feature = "tls")]
    #[arg(long, env = "TLS_CERT", value_name = "PATH", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[cfg(feature = "tls")]
    #[arg(long, env = "TLS_KEY", value_name = "PATH", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// On SIGINT or SIGTERM, how long the calls in flight may take to finish once the port
    /// stops accepting; longer ones (streams) are cut.
    #[arg(long, env = "DRAIN_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub drain_timeout: Duration,
    /// On SIGINT or SIGTERM, how long to report NOT_SERVING while still accepting calls, for
    /// load balancers to notice first; a second signal ends the wait.
    #[arg(long, env = "SHUTDOWN_DELAY", default_value = "0s", value_parser = humantime::parse_duration)]
    pub shutdown_delay: Duration,
    /// The origins browsers may call REST and gRPC-Web from, `*` for any; repeat or
    /// comma-separate. None by default.
    #[arg(long = "cors-origin", env = "CORS_ORIGINS", value_name = "ORIGIN", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
{%- for client in project.clients %}
    /// The {{ client.full_name }} servers to call, e.g. `http://{{ client.field }}:{{ project.port }}`; repeat or
    /// comma-separate to balance the calls over several.
    #[arg(long = "{{ client.flag }}", env = "{{ client.env }}", value_name = "URL", value_delimiter = ',', required = true)]
    pub {{ client.field }}: Vec<String>,
{%- endfor %}
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event.
    Json,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Config::command().debug_assert();
    }

    #[test]
    fn defaults_serve_plain_text_with_reflection() {
        let config = Config::try_parse_from([
            "{{ project.name }}",
{%- for client in project.clients %}
            "--{{ client.flag }}",
            "http://127.0.0.1:1",
{%- endfor %}
        ])
        .unwrap();
        assert_eq!(config.listen.port(), {{ project.port }});
        assert!(!config.production);
        #[cfg(feature = "tls")]
        assert_eq!(config.tls_cert, None);
        assert_eq!(config.drain_timeout, Duration::from_secs(10));
    }
}
