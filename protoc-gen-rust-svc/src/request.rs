//! The plugin protocol's messages, as far as we read them.
//!
//! `proto_file` is kept as raw bytes: decoding it with `prost_types` would silently drop every
//! custom option (extensions), `google.api.http` and our policies included. The raw bytes go to
//! prost-reflect, which keeps them.

/// `google.protobuf.compiler.CodeGeneratorRequest` with undecoded `proto_file`s.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RawRequest {
    /// The files named on the command line, in order.
    #[prost(string, repeated, tag = "1")]
    pub file_to_generate: Vec<String>,
    /// The plugin parameter string.
    #[prost(string, optional, tag = "2")]
    pub parameter: Option<String>,
    /// Every file to generate and everything they import, dependencies first, each an encoded
    /// `FileDescriptorProto`.
    #[prost(bytes = "vec", repeated, tag = "15")]
    pub proto_file: Vec<Vec<u8>>,
}

/// A `FileDescriptorSet` whose files stay encoded.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RawFileDescriptorSet {
    /// Encoded `FileDescriptorProto`s.
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub file: Vec<Vec<u8>>,
}
