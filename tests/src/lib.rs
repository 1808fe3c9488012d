//! The generated code of every proto under `protos/`, one module per proto package. That this
//! crate compiles (and passes clippy with `-D warnings`) is the compile test.

include!(concat!(env!("OUT_DIR"), "/mod.rs"));

/// `streaming.proto` again, with `default_stubs`, `type_attribute`, `field_attribute` and
/// `reject_unknown_fields`: the compile test of those parameters
/// (tests/tests/it/codegen_options.rs).
pub mod with_options {
    include!(concat!(env!("OUT_DIR"), "/with_options/mod.rs"));
}

/// `gateway.proto`'s messages again, with `emit_unpopulated`: the compile test of that
/// parameter (tests/tests/it/codegen_options.rs).
pub mod emit_unpopulated {
    include!(concat!(env!("OUT_DIR"), "/emit_unpopulated/mod.rs"));
}

/// `protos/http/unannotated.proto`, routed by `protos/http/unannotated.yaml` (a gRPC API
/// configuration): tests/tests/it/gateway_mapping.rs.
pub mod unannotated {
    include!(concat!(env!("OUT_DIR"), "/unannotated/mod.rs"));
}

/// `gateway.proto`'s messages and gateway with `use_proto_names`, `use_enum_numbers` and
/// `emit_unpopulated`, as grpc-gateway users often set its marshaler:
/// tests/tests/it/codegen_options.rs.
pub mod proto_names {
    include!(concat!(env!("OUT_DIR"), "/proto_names/mod.rs"));
}

/// `protos/editions`: files written with editions, lowered by the generator, beside their proto2
/// and proto3 equivalents written by hand.
pub mod editions {
    include!(concat!(env!("OUT_DIR"), "/editions/mod.rs"));
}

/// `protos/shapes`: a service of each shape (unary only, each streaming kind alone, mixes)
/// generated with each artifact set; that they compile is the test.
pub mod shapes {
    /// The domain trait alone.
    pub mod domain {
        include!(concat!(env!("OUT_DIR"), "/shapes/domain/mod.rs"));
    }
    /// The trait, the stub and the fake.
    pub mod stub_and_fake {
        include!(concat!(env!("OUT_DIR"), "/shapes/stub_and_fake/mod.rs"));
    }
    /// The trait and the gRPC adapter.
    pub mod server {
        include!(concat!(env!("OUT_DIR"), "/shapes/server/mod.rs"));
    }
    /// The trait and the client.
    pub mod client {
        include!(concat!(env!("OUT_DIR"), "/shapes/client/mod.rs"));
    }
    /// The trait and the REST gateway.
    pub mod gateway {
        include!(concat!(env!("OUT_DIR"), "/shapes/gateway/mod.rs"));
    }
    /// The default artifacts.
    pub mod defaults {
        include!(concat!(env!("OUT_DIR"), "/shapes/defaults/mod.rs"));
    }
    /// Every artifact.
    pub mod all {
        include!(concat!(env!("OUT_DIR"), "/shapes/all/mod.rs"));
    }
}

#[cfg(test)]
mod editions_roundtrip;
#[cfg(test)]
mod packed_wire;
