//! Generates the code of proto/ into `OUT_DIR` on every build (src/proto.rs includes it), with
//! the compiler built into protoc-gen-rust-svc: no protoc to install. The generated code is never
//! edited: change the protos and build again.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    protoc_gen_rust_svc::Builder::new()
        .include("proto")
{%- for parameter in project.parameters %}
{%- if loop.first %}
        .parameter("{{ project.parameters|join(",") }}")?
{%- endif %}
{%- endfor %}
{%- for proto in project.protos %}
        .file("proto/{{ proto }}")
{%- endfor %}
        // `proto::FILE_DESCRIPTOR_SET`, which server reflection serves.
        .file_descriptor_set(true)
        .compile()?;
    Ok(())
}
