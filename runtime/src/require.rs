//! [`require!`](crate::require): the one error generated code fails with when this crate was
//! built without a feature its artifacts use.
//!
//! Generated code names the parts of this crate its artifacts use (`server`, `client`, …) once,
//! at the top of each services file. Without the feature, the part's modules do not exist, and
//! the code would fail with an unresolved path at every use, hundreds for a large API; a
//! `compile_error!` from macro expansion stops the build before name resolution, so the user
//! reads one error per missing feature, naming it. Macros, because only this crate knows its
//! features: a `cfg(feature = …)` in generated code would ask the user's crate.

/// Fails the build, naming the feature to turn on, for each part named that this crate was
/// built without: `server`, `client`, `fake`, `json`, `gateway`, `harness` (the test harness:
/// `host` and `client`). Emitted by the generator; not for hand-written code.
#[doc(hidden)]
#[macro_export]
macro_rules! require {
    ($($part:ident),* $(,)?) => {
        $($crate::require!(@part $part);)*
    };
    (@part server) => { $crate::__require_server!(); };
    (@part client) => { $crate::__require_client!(); };
    (@part fake) => { $crate::__require_fake!(); };
    (@part json) => { $crate::__require_json!(); };
    (@part gateway) => { $crate::__require_gateway!(); };
    (@part harness) => { $crate::__require_harness!(); };
}

/// One macro per part, defined twice: empty with the feature, an error without it.
macro_rules! part {
    ($feature:literal, $name:ident, $error:literal) => {
        #[cfg(feature = $feature)]
        #[doc(hidden)]
        #[macro_export]
        macro_rules! $name {
            () => {};
        }

        #[cfg(not(feature = $feature))]
        #[doc(hidden)]
        #[macro_export]
        macro_rules! $name {
            () => {
                compile_error!($error);
            };
        }
    };
}

part!(
    "server",
    __require_server,
    "this code was generated with the `server` artifact: turn on rust-svc-runtime's `server` \
     feature (features = [\"server\"] in its Cargo.toml entry)"
);
part!(
    "client",
    __require_client,
    "this code was generated with the `client` artifact: turn on rust-svc-runtime's `client` \
     feature (features = [\"client\"] in its Cargo.toml entry)"
);
part!(
    "fake",
    __require_fake,
    "this code was generated with the `fake` artifact: turn on rust-svc-runtime's `fake` \
     feature (features = [\"fake\"] in its Cargo.toml entry)"
);
part!(
    "json",
    __require_json,
    "this code was generated with proto3 JSON (the `gateway` artifact or `json_all_messages`): \
     turn on rust-svc-runtime's `json` feature (features = [\"json\"] in its Cargo.toml entry)"
);
part!(
    "gateway",
    __require_gateway,
    "this code was generated with the `gateway` artifact: turn on rust-svc-runtime's `gateway` \
     feature (features = [\"gateway\"] in its Cargo.toml entry)"
);

// The harness needs two features; an error names each missing one.
#[cfg(all(feature = "host", feature = "client"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __require_harness {
    () => {};
}

#[cfg(all(not(feature = "host"), feature = "client"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __require_harness {
    () => {
        compile_error!(
            "this code was generated with the `server` and `client` artifacts, whose adapter has \
             the test harness (`serve_in_memory`, `serve_loopback`): turn on rust-svc-runtime's \
             `host` feature (features = [\"host\"] in its Cargo.toml entry)"
        );
    };
}

#[cfg(not(feature = "client"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __require_harness {
    () => {};
}
