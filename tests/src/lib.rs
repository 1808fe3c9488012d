//! The generated code of every proto under `protos/`, one module per proto package. That this
//! crate compiles (and passes clippy with `-D warnings`) is the compile test.

include!(concat!(env!("OUT_DIR"), "/mod.rs"));
