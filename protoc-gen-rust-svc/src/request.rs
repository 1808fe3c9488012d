//! The plugin protocol's messages, as far as we read them.
//!
//! `proto_file` is kept as raw bytes: decoding it with `prost_types` would silently drop every
//! custom option (extensions), `google.api.http` and our policies included. The raw bytes go to
//! prost-reflect, which keeps them.

use prost::encoding::{self, DecodeContext, WireType};
use prost::{DecodeError, Message};
use prost_types::SourceCodeInfo;

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

/// An encoded `FileDescriptorProto` split in two: the descriptor without its source locations,
/// and the locations decoded.
#[derive(Debug, Default)]
pub struct SplitFile {
    /// The file's name (field 1).
    pub name: String,
    /// Every field but `source_code_info`, bytes unchanged.
    pub descriptor: Vec<u8>,
    /// Field 9, decoded (occurrences merged, as protobuf does).
    pub source_code_info: Option<SourceCodeInfo>,
}

/// `FileDescriptorProto.name`.
const FILE_NAME: u32 = 1;
/// `FileDescriptorProto.source_code_info`.
const FILE_SOURCE_CODE_INFO: u32 = 9;

/// One field of an encoded message: its tag and wire type, the whole field as encoded (key
/// included), and its value.
struct Field<'a> {
    tag: u32,
    wire_type: WireType,
    encoded: &'a [u8],
    value: &'a [u8],
}

/// The fields of an encoded message, in order, as they are on the wire; a malformed one is
/// the last.
fn fields(encoded: &[u8]) -> impl Iterator<Item = Result<Field<'_>, DecodeError>> {
    let mut rest = encoded;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let read = next_field(&mut rest);
        if read.is_err() {
            rest = &[];
        }
        Some(read)
    })
}

/// The field at the start of `rest`, which moves past it.
fn next_field<'a>(rest: &mut &'a [u8]) -> Result<Field<'a>, DecodeError> {
    let field = *rest;
    let (tag, wire_type) = encoding::decode_key(rest)?;
    let value = *rest;
    encoding::skip_field(wire_type, tag, rest, DecodeContext::default())?;
    Ok(Field {
        tag,
        wire_type,
        encoded: &field[..field.len() - rest.len()],
        value: &value[..value.len() - rest.len()],
    })
}

/// Whether `field` is `FileDescriptorProto.source_code_info`.
fn is_source_code_info(field: &Field<'_>) -> bool {
    (field.tag, field.wire_type) == (FILE_SOURCE_CODE_INFO, WireType::LengthDelimited)
}

/// Splits the source locations off an encoded `FileDescriptorProto`, copying every other field
/// as it is (options and extensions included), so that the descriptor pool never holds them.
pub fn split_source_code_info(encoded: &[u8]) -> Result<SplitFile, DecodeError> {
    let mut split = SplitFile {
        descriptor: Vec::with_capacity(encoded.len()),
        ..SplitFile::default()
    };
    for field in fields(encoded) {
        let field = field?;
        if is_source_code_info(&field) {
            split
                .source_code_info
                .get_or_insert_with(SourceCodeInfo::default)
                .merge_length_delimited(field.value)?;
            continue;
        }
        if (field.tag, field.wire_type) == (FILE_NAME, WireType::LengthDelimited) {
            encoding::string::merge(
                field.wire_type,
                &mut split.name,
                &mut &field.value[..],
                DecodeContext::default(),
            )?;
        }
        split.descriptor.extend_from_slice(field.encoded);
    }
    Ok(split)
}

/// An encoded `FileDescriptorProto` without its source locations, every other field copied
/// as it is.
pub fn without_source_code_info(encoded: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut kept = Vec::with_capacity(encoded.len());
    for field in fields(encoded) {
        let field = field?;
        if !is_source_code_info(&field) {
            kept.extend_from_slice(field.encoded);
        }
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use prost_types::source_code_info::Location;
    use prost_types::{DescriptorProto, FileDescriptorProto};

    use super::*;

    /// `a/b.proto` with a message and its comment, and that comment's location.
    fn commented_file() -> (FileDescriptorProto, SourceCodeInfo) {
        let info = SourceCodeInfo {
            location: vec![Location {
                path: vec![4, 0],
                span: vec![3, 0, 7],
                leading_comments: Some(" A message.\n".to_owned()),
                ..Location::default()
            }],
        };
        let file = FileDescriptorProto {
            name: Some("a/b.proto".to_owned()),
            package: Some("a".to_owned()),
            message_type: vec![DescriptorProto {
                name: Some("M".to_owned()),
                ..DescriptorProto::default()
            }],
            source_code_info: Some(info.clone()),
            ..FileDescriptorProto::default()
        };
        (file, info)
    }

    #[test]
    fn without_source_code_info_drops_only_the_locations() {
        let (file, _) = commented_file();
        let stripped = without_source_code_info(&file.encode_to_vec()).unwrap();
        let decoded = FileDescriptorProto::decode(stripped.as_slice()).unwrap();
        assert_eq!(
            decoded,
            FileDescriptorProto {
                source_code_info: None,
                ..file
            }
        );
    }

    #[test]
    fn the_reflection_set_drops_the_locations_of_a_file_too_large_to_serve_with_them() {
        let file = |name: &str, comment_bytes: usize| FileDescriptorProto {
            name: Some(name.to_owned()),
            source_code_info: Some(SourceCodeInfo {
                location: vec![Location {
                    leading_comments: Some("x".repeat(comment_bytes)),
                    ..Location::default()
                }],
            }),
            ..FileDescriptorProto::default()
        };
        let small = file("small.proto", 100);
        let large = file("large.proto", 2 << 20);
        let set = crate::analyze::encode_file_descriptor_set(&[
            small.encode_to_vec(),
            large.encode_to_vec(),
        ]);
        let set = prost_types::FileDescriptorSet::decode(set.as_slice()).unwrap();
        assert_eq!(set.file[0], small, "a small file keeps its comments");
        assert_eq!(set.file[1].name(), "large.proto");
        assert_eq!(set.file[1].source_code_info, None);
    }

    #[test]
    fn split_keeps_every_other_field_and_decodes_the_locations() {
        let (file, info) = commented_file();
        let split = split_source_code_info(&file.encode_to_vec()).unwrap();
        assert_eq!(split.name, "a/b.proto");
        assert_eq!(split.source_code_info, Some(info));
        let without = FileDescriptorProto {
            source_code_info: None,
            ..file
        };
        assert_eq!(
            FileDescriptorProto::decode(split.descriptor.as_slice()).unwrap(),
            without
        );
    }

    #[test]
    fn repeated_source_infos_merge_like_protobuf() {
        let location = |line| Location {
            span: vec![line, 0, 1],
            ..Location::default()
        };
        let part = |line| {
            FileDescriptorProto {
                source_code_info: Some(SourceCodeInfo {
                    location: vec![location(line)],
                }),
                ..FileDescriptorProto::default()
            }
            .encode_to_vec()
        };
        let encoded = [part(1), part(2)].concat();
        let split = split_source_code_info(&encoded).unwrap();
        assert_eq!(
            split.source_code_info.unwrap().location,
            vec![location(1), location(2)]
        );
        assert!(split.descriptor.is_empty());
    }

    #[test]
    fn truncated_bytes_are_an_error() {
        let encoded = FileDescriptorProto {
            name: Some("a.proto".to_owned()),
            ..FileDescriptorProto::default()
        }
        .encode_to_vec();
        assert!(split_source_code_info(&encoded[..encoded.len() - 1]).is_err());
    }
}
