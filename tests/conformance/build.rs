//! Generates the Connect conformance suite's protos (`tests/data/connect-conformance`, v1.0.7)
//! with the plugin's build.rs API, as a user of the generator would.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = "../data/connect-conformance";
    protoc_gen_rust_svc::Builder::new()
        .include(root)
        .files(
            ["service", "config", "client_compat", "server_compat"]
                .map(|name| format!("{root}/connectrpc/conformance/v1/{name}.proto")),
        )
        .compile()?;
    println!("cargo:rerun-if-changed={root}");
    Ok(())
}
