//! proto3 repeated scalars and enums are packed on the wire whatever other options they carry
//! (`protos/packed.proto`): prost-build before 0.14.6 wrote `packed = "false"` on any of them
//! with an option (tokio-rs/prost#976), so the plugin built from one lockfile and a build.rs
//! resolving another encoded the same message differently.

use prost::Message;

use crate::tests::packed::{Color, Lists};

#[test]
#[allow(deprecated)] // `old_ints` is deprecated in the proto, on purpose.
fn repeated_scalars_and_enums_with_options_are_packed() {
    let lists = Lists {
        plain: vec![1, 2],
        old_ints: vec![3, 4],
        colors: vec![Color::Red as i32, Color::Green as i32],
        ratios: vec![0.5],
        unpacked: vec![1, -1],
        fixed: vec![7],
    };
    let expected: &[u8] = &[
        0x0a, 2, 1, 2, // 1 plain: length-delimited, two varints
        0x12, 2, 3, 4, // 2 old_ints [deprecated]: packed
        0x1a, 2, 1, 2, // 3 colors [(note)]: packed
        0x22, 8, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f, // 4 ratios [debug_redact]: one packed double
        0x28, 2, 0x28, 1, // 5 unpacked [packed = false]: a varint per value, zigzag
        0x32, 4, 7, 0, 0, 0, // 6 fixed [packed = true]: packed
    ];
    assert_eq!(lists.encode_to_vec(), expected);
    assert_eq!(Lists::decode(expected).unwrap(), lists);
    // Parsers take either form (protobuf's encoding guide): the unpacked form of a packed
    // field decodes to the same message.
    let unpacked_old_ints: &[u8] = &[0x10, 3, 0x10, 4];
    assert_eq!(
        Lists::decode(unpacked_old_ints).unwrap().old_ints,
        vec![3, 4]
    );
}
