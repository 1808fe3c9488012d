//! The forms proto3 JSON gives values whose serde form is another: 64-bit integers as strings
//! ([`Int64`]), bytes as base64 ([`Base64`]) and enum numbers by name ([`Enum`]); floats are
//! [`Floats`](super::Floats). Each takes a field's whole value, singular, repeated or a map's
//! values, borrowed, and writes it without building another (a string is written straight into
//! the output through `collect_str`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;
use std::marker::PhantomData;

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use serde::{Serialize, Serializer};

use super::OpenEnum;

/// A field of `int64`, `uint64` or their kin (singular, repeated, or a map's values), borrowed,
/// written as proto3 JSON writes them: decimal strings, which JSON readers keep exact.
pub struct Int64<'a, T: ?Sized>(pub &'a T);

/// What [`Int64`] can write: `i64`, `u64`, and vectors and maps of them.
pub trait Int64Field {
    /// Writes the value in proto3 JSON form.
    fn serialize_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;
}

impl Int64Field for i64 {
    fn serialize_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Int64Field for u64 {
    fn serialize_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<F: Int64Field> Int64Field for Vec<F> {
    fn serialize_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter().map(Int64))
    }
}

impl<K: Serialize, F: Int64Field, H: BuildHasher> Int64Field for HashMap<K, F, H> {
    fn serialize_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter().map(|(key, value)| (key, Int64(value))))
    }
}

impl<K: Serialize, F: Int64Field> Int64Field for BTreeMap<K, F> {
    fn serialize_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter().map(|(key, value)| (key, Int64(value))))
    }
}

impl<T: Int64Field + ?Sized> Serialize for Int64<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_json(serializer)
    }
}

/// A `bytes` field (singular, repeated, or a map's values), borrowed, written as proto3 JSON
/// writes it: standard base64, padded.
pub struct Base64<'a, T: ?Sized>(pub &'a T);

/// What [`Base64`] can write: bytes, and vectors and maps of them.
pub trait BytesField {
    /// Writes the value in proto3 JSON form.
    fn serialize_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;
}

/// One value's base64, written straight into the output.
struct Encoded<'a>(&'a [u8]);

impl Serialize for Encoded<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&Base64Display::new(self.0, &STANDARD))
    }
}

impl BytesField for Vec<u8> {
    fn serialize_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Encoded(self).serialize(serializer)
    }
}

impl BytesField for bytes::Bytes {
    fn serialize_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Encoded(self).serialize(serializer)
    }
}

impl BytesField for Vec<Vec<u8>> {
    fn serialize_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter().map(|bytes| Encoded(bytes)))
    }
}

impl BytesField for Vec<bytes::Bytes> {
    fn serialize_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter().map(|bytes| Encoded(bytes)))
    }
}

impl<K: Serialize, B: AsRef<[u8]>, H: BuildHasher> BytesField for HashMap<K, B, H> {
    fn serialize_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(
            self.iter()
                .map(|(key, value)| (key, Encoded(value.as_ref()))),
        )
    }
}

impl<K: Serialize, B: AsRef<[u8]>> BytesField for BTreeMap<K, B> {
    fn serialize_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(
            self.iter()
                .map(|(key, value)| (key, Encoded(value.as_ref()))),
        )
    }
}

impl<T: BytesField + ?Sized> Serialize for Base64<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_json(serializer)
    }
}

/// An enum field of the enum `E` (singular, repeated, or a map's values: its numbers),
/// borrowed, written as proto3 JSON writes it: each number by its value's name, or as the number
/// when `E` has none (an open enum's value from a newer peer), as [`OpenEnum`] writes one.
pub struct Enum<'a, E, T: ?Sized>(&'a T, PhantomData<fn() -> E>);

impl<'a, E, T: ?Sized> Enum<'a, E, T> {
    /// The field's value.
    pub fn new(value: &'a T) -> Self {
        Self(value, PhantomData)
    }
}

impl<E, T: ?Sized + fmt::Debug> fmt::Debug for Enum<'_, E, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Enum").field(&self.0).finish()
    }
}

/// What [`Enum`] can write: an enum field's number, and vectors and maps of them.
pub trait EnumField {
    /// Writes the value in proto3 JSON form, names from `E`.
    fn serialize_json<E, S>(&self, serializer: S) -> Result<S::Ok, S::Error>
    where
        E: TryFrom<i32> + Serialize,
        S: Serializer;
}

impl EnumField for i32 {
    fn serialize_json<E, S>(&self, serializer: S) -> Result<S::Ok, S::Error>
    where
        E: TryFrom<i32> + Serialize,
        S: Serializer,
    {
        OpenEnum::<E>::new(*self).serialize(serializer)
    }
}

impl EnumField for Vec<i32> {
    fn serialize_json<E, S>(&self, serializer: S) -> Result<S::Ok, S::Error>
    where
        E: TryFrom<i32> + Serialize,
        S: Serializer,
    {
        serializer.collect_seq(self.iter().map(|number| OpenEnum::<E>::new(*number)))
    }
}

impl<K: Serialize, H: BuildHasher> EnumField for HashMap<K, i32, H> {
    fn serialize_json<E, S>(&self, serializer: S) -> Result<S::Ok, S::Error>
    where
        E: TryFrom<i32> + Serialize,
        S: Serializer,
    {
        serializer.collect_map(
            self.iter()
                .map(|(key, number)| (key, OpenEnum::<E>::new(*number))),
        )
    }
}

impl<K: Serialize> EnumField for BTreeMap<K, i32> {
    fn serialize_json<E, S>(&self, serializer: S) -> Result<S::Ok, S::Error>
    where
        E: TryFrom<i32> + Serialize,
        S: Serializer,
    {
        serializer.collect_map(
            self.iter()
                .map(|(key, number)| (key, OpenEnum::<E>::new(*number))),
        )
    }
}

impl<E: TryFrom<i32> + Serialize, T: EnumField + ?Sized> Serialize for Enum<'_, E, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_json::<E, S>(serializer)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, Serialize)]
    enum Colour {
        #[serde(rename = "GREEN")]
        Green,
    }

    impl TryFrom<i32> for Colour {
        type Error = ();

        fn try_from(number: i32) -> Result<Self, ()> {
            match number {
                1 => Ok(Self::Green),
                _ => Err(()),
            }
        }
    }

    #[test]
    fn sixty_four_bit_integers_are_strings_everywhere() {
        assert_eq!(serde_json::to_string(&Int64(&-7i64)).unwrap(), r#""-7""#);
        assert_eq!(
            serde_json::to_value(Int64(&u64::MAX)).unwrap(),
            json!("18446744073709551615")
        );
        assert_eq!(
            serde_json::to_value(Int64(&vec![1i64, 2])).unwrap(),
            json!(["1", "2"])
        );
        let map: BTreeMap<i32, u64> = [(3, 4)].into();
        assert_eq!(
            serde_json::to_value(Int64(&map)).unwrap(),
            json!({"3": "4"})
        );
    }

    #[test]
    fn bytes_are_padded_standard_base64_everywhere() {
        assert_eq!(
            serde_json::to_string(&Base64(&vec![0xfbu8, 0xff])).unwrap(),
            r#""+/8=""#
        );
        assert_eq!(
            serde_json::to_value(Base64(&vec![b"ab".to_vec(), Vec::new()])).unwrap(),
            json!(["YWI=", ""])
        );
        let map: HashMap<String, Vec<u8>> = [("k".to_owned(), b"abc".to_vec())].into();
        assert_eq!(
            serde_json::to_value(Base64(&map)).unwrap(),
            json!({"k": "YWJj"})
        );
        assert_eq!(
            serde_json::to_value(Base64(&bytes::Bytes::from_static(b"a"))).unwrap(),
            json!("YQ==")
        );
    }

    #[test]
    fn enum_numbers_are_names_when_the_enum_has_them() {
        let write = |value: serde_json::Result<serde_json::Value>| value.unwrap();
        assert_eq!(
            write(serde_json::to_value(Enum::<Colour, _>::new(&1))),
            json!("GREEN")
        );
        assert_eq!(
            write(serde_json::to_value(Enum::<Colour, _>::new(&9))),
            json!(9)
        );
        assert_eq!(
            write(serde_json::to_value(Enum::<Colour, _>::new(&vec![1, -2]))),
            json!(["GREEN", -2])
        );
        let map: HashMap<bool, i32> = [(true, 1)].into();
        assert_eq!(
            write(serde_json::to_value(Enum::<Colour, _>::new(&map))),
            json!({"true": "GREEN"})
        );
    }
}
