//! Generates every proto under `protos/` (except the deliberately invalid ones) through the
//! build.rs API, so the crate's compilation is the compile test of the generated code.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut protos: Vec<_> = std::fs::read_dir("protos")?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
        .collect();
    protos.sort();
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    // Every artifact, tonic's own client included: the adapter tests drive the server with it.
    // The descriptor set, as a constant and as a file, for the reflection tests. JSON for every
    // message: tests/tests/it/json_mapping.rs and others check the mapping on messages no route
    // reaches (by default only routed ones get it; the examples and the corpus build that way).
    protoc_gen_rust_svc::Builder::new()
        .artifacts(protoc_gen_rust_svc::Artifact::ALL)
        .json_all_messages(true)
        .file_descriptor_set(true)
        .file_descriptor_set_path(out_dir.join("file_descriptor_set.bin"))
        .include("protos")
        .include("../proto")
        .files(protos)
        .compile()?;
    // Parameters that change the code of a service or its messages, on one proto of its own
    // (the module `with_options`): tests/tests/it/codegen_options.rs.
    protoc_gen_rust_svc::Builder::new()
        .default_stubs(true)
        // Proto3 JSON that refuses unknown fields, beside the main module's, which skips them.
        .json_all_messages(true)
        .reject_unknown_fields(true)
        .type_attribute(".tests.streaming.Ping", "#[derive(PartialOrd, Ord)]")
        .field_attribute(
            ".tests.streaming.Pong.seq",
            "#[doc = \"Set by field_attribute.\"]",
        )
        .include("protos")
        .file("protos/streaming.proto")
        .out_dir(out_dir.join("with_options"))
        .compile()?;
    // The gateway test proto's messages (a field of every kind) and gateway again with proto3
    // JSON options of grpc-gateway's marshaler, each in a module of its own
    // (tests/tests/it/codegen_options.rs): `emit_unpopulated` writes fields at their default
    // value too, as its default marshaler does; `proto_names` adds `UseProtoNames` and
    // `UseEnumNumbers`, as its users often set all three (`OrigName`, `EnumsAsInts` and
    // `EmitDefaults` in its first version).
    let gateway_json = |module: &str, proto_names: bool| {
        protoc_gen_rust_svc::Builder::new()
            .artifacts([
                protoc_gen_rust_svc::Artifact::Domain,
                protoc_gen_rust_svc::Artifact::Gateway,
            ])
            .json_all_messages(true)
            .emit_unpopulated(true)
            .use_proto_names(proto_names)
            .use_enum_numbers(proto_names)
            .include("protos")
            .include("../proto")
            .file("protos/gateway.proto")
            .file("protos/proto2.proto")
            .out_dir(out_dir.join(module))
            .compile()
    };
    gateway_json("emit_unpopulated", false)?;
    gateway_json("proto_names", true)?;
    // A service without google.api.http annotations, routed by a gRPC API configuration (the
    // module `unannotated`, tests/tests/it/gateway_mapping.rs), one of whose DELETE rules has a
    // body (`allow_delete_body`); the rpc it leaves out is routed on its gRPC path
    // (`generate_unbound_methods`).
    protoc_gen_rust_svc::Builder::new()
        .artifacts([
            protoc_gen_rust_svc::Artifact::Domain,
            protoc_gen_rust_svc::Artifact::Server,
            protoc_gen_rust_svc::Artifact::Gateway,
        ])
        .grpc_api_configuration("protos/http/unannotated.yaml")
        .allow_delete_body(true)
        .generate_unbound_methods(true)
        .include("protos/http")
        .file("protos/http/unannotated.proto")
        .out_dir(out_dir.join("unannotated"))
        .compile()?;
    // Files written with editions, and their proto2 / proto3 equivalents by hand, compiled with
    // protoc (the embedded compiler does not parse editions): the plugin's lowering, which
    // `Builder::protoc` runs as the plugin would, must give code that encodes the same bytes
    // (src/editions_roundtrip.rs).
    protoc_gen_rust_svc::Builder::new()
        .protoc(protoc_bin_vendored::protoc_bin_path()?)
        // Their JSON is compared too, and no route reaches them.
        .json_all_messages(true)
        .include("protos/editions")
        .include(protoc_bin_vendored::include_path()?)
        .files(
            ["explicit", "explicit_proto2", "implicit", "implicit_proto3"]
                .map(|name| format!("protos/editions/{name}.proto")),
        )
        .out_dir(out_dir.join("editions"))
        .compile()?;
    // One service of each shape (unary only, each streaming kind alone, and mixes) with each
    // artifact beside the domain trait alone, the defaults and every artifact: what a file
    // imports depends on both, so an import one combination needs cannot go missing unseen
    // (the module `shapes`).
    let mut shapes: Vec<_> = std::fs::read_dir("protos/shapes")?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
        .collect();
    shapes.sort();
    use protoc_gen_rust_svc::Artifact::{self, *};
    let sets: [(&str, &[Artifact]); 7] = [
        ("domain", &[Domain]),
        ("stub_and_fake", &[Domain, Stub, Fake]),
        ("server", &[Domain, Server]),
        ("client", &[Domain, Client]),
        ("gateway", &[Domain, Gateway]),
        ("defaults", &Artifact::DEFAULT),
        ("all", &Artifact::ALL),
    ];
    for (module, artifacts) in sets {
        protoc_gen_rust_svc::Builder::new()
            .artifacts(artifacts.iter().copied())
            .include("protos/shapes")
            .include("../proto")
            .files(&shapes)
            .out_dir(out_dir.join("shapes").join(module))
            .compile()?;
    }
    println!("cargo:rerun-if-changed=protos");
    println!("cargo:rerun-if-changed=../proto");
    Ok(())
}
