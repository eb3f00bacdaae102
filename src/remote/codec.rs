//! The serde format of everything that crosses between processes — arguments, results and
//! errors: [postcard](https://docs.rs/postcard), a compact, documented and stable format
//! (varint integers, length-prefixed sequences, no field names). Reachable as `__private::codec`
//! for tests that build raw frames; not part of the API.
//!
//! Chosen by measurement (`cargo run --release -p benchmarks --bin bench -- codec`, see
//! `BENCHMARKS.md`) among maintained serde formats. Like any non-self-describing format it
//! does not support `deserialize_any` (`#[serde(untagged)]`, `flatten`, `serde_json::Value`):
//! such a type fails its task with a serialization error that says so. An error that a type's
//! own `Serialize`/`Deserialize` raises (`Error::custom(msg)`, or serde's own, such as an
//! unknown enum variant) is reported with the type's name and `msg`. postcard drops `msg`, so
//! after such an error the value is encoded or decoded once more through a layer that keeps it
//! (`codec/capture.rs`); a value that encodes and decodes never pays for it. Decoding is
//! strict: bytes left over after the value are an error, so a frame means exactly one thing.
//! The process and cluster engines both encode and decode through this module, in the parent
//! and in the worker.
//!
//! ```
//! use concurrent_futures::__private::codec;
//! let bytes = codec::encode(&(7u32, "seven".to_string())).unwrap();
//! let back: (u32, String) = codec::decode(&bytes).unwrap();
//! assert_eq!(back, (7, "seven".to_string()));
//! assert!(codec::decode::<(u32, String)>(&bytes[..3]).is_err()); // truncated: an error
//! ```

use serde::{de::DeserializeOwned, Serialize};

mod capture;

/// Encodes `value`.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
    postcard::to_stdvec(value).map_err(|e| encode_failed(value, e))
}

/// Appends the encoding of `value` to `buf` (a frame under construction, or a batch of results
/// built in one buffer); on an error `buf` keeps what it held before.
pub fn encode_into<T: Serialize + ?Sized>(buf: &mut Vec<u8>, value: &T) -> Result<(), String> {
    let start = buf.len();
    postcard::serialize_with_flavor(value, Append(buf)).map_err(|e| {
        buf.truncate(start);
        encode_failed(value, e)
    })
}

/// A postcard output that writes at the end of a borrowed buffer.
struct Append<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Append<'_> {
    type Output = ();
    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }
    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Decodes one value that must use all of `bytes`.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let (value, rest) =
        postcard::take_from_bytes::<T>(bytes).map_err(|e| decode_failed::<T>(bytes, e))?;
    if !rest.is_empty() {
        return Err(format!(
            "{} bytes left over after the value (a different type was sent)",
            rest.len()
        ));
    }
    Ok(value)
}

/// Why `value` did not encode: [`explain`], with the message its impl gave `Error::custom`.
#[cold]
fn encode_failed<T: Serialize + ?Sized>(value: &T, e: postcard::Error) -> String {
    let message = match e {
        postcard::Error::SerdeSerCustom => capture::serialize_message(value),
        _ => None,
    };
    explain::<T>(e, message)
}

/// Why `bytes` did not decode as a `T`: [`explain`], with the message its impl gave
/// `Error::custom`.
#[cold]
fn decode_failed<T: DeserializeOwned>(bytes: &[u8], e: postcard::Error) -> String {
    let message = match e {
        postcard::Error::SerdeDeCustom => capture::deserialize_message::<T>(bytes),
        _ => None,
    };
    explain::<T>(e, message)
}

/// One line naming the type and what went wrong (for an error of postcard's own).
pub(crate) fn describe<T: ?Sized>(e: postcard::Error) -> String {
    explain::<T>(e, None)
}

/// One line naming the type and what went wrong, with the text an impl of it (or of a value
/// inside it) gave `Error::custom`, where known.
fn explain<T: ?Sized>(e: postcard::Error, message: Option<String>) -> String {
    let ty = std::any::type_name::<T>();
    let because = message.map_or(String::new(), |m| format!(": {m}"));
    match e {
        postcard::Error::WontImplement => format!(
            "`{ty}` needs a self-describing format (`deserialize_any`: `#[serde(untagged)]`, \
             `flatten`, `serde_json::Value`), which the process engine's format does not support"
        ),
        postcard::Error::SerdeSerCustom => {
            format!("the `Serialize` impl of `{ty}` returned an error{because}")
        }
        postcard::Error::SerdeDeCustom => {
            format!("the `Deserialize` impl of `{ty}` returned an error{because}")
        }
        other => format!("`{ty}`: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_leftovers() {
        let v = vec![1u64, 300, u64::MAX];
        let b = encode(&v).unwrap();
        assert_eq!(decode::<Vec<u64>>(&b).unwrap(), v);
        let mut longer = b.clone();
        longer.push(0);
        assert!(decode::<Vec<u64>>(&longer)
            .unwrap_err()
            .contains("left over"));
        let mut buf = vec![9, 9];
        encode_into(&mut buf, &5u8).unwrap();
        assert_eq!(buf, [9, 9, 5]);
        // A value that fails part-way leaves the buffer as it was.
        struct Fails;
        impl Serialize for Fails {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::{Error, SerializeTuple};
                let mut t = s.serialize_tuple(2)?;
                t.serialize_element(&7u8)?;
                t.end()?;
                Err(S::Error::custom("no"))
            }
        }
        assert!(encode_into(&mut buf, &Fails).is_err());
        assert_eq!(buf, [9, 9, 5]);
    }

    /// Refuses to be encoded, saying why.
    #[derive(Debug, PartialEq)]
    struct Handle;

    impl Serialize for Handle {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom(
                "the database handle cannot be sent",
            ))
        }
    }

    /// Encodes as a `u32`; refuses to decode an odd one, saying which.
    #[derive(Debug, PartialEq, Serialize)]
    struct Even(u32);

    impl<'de> serde::Deserialize<'de> for Even {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            match u32::deserialize(d)? {
                n if n % 2 == 0 => Ok(Even(n)),
                n => Err(serde::de::Error::custom(format_args!("{n} is odd"))),
            }
        }
    }

    /// Wraps `Even`'s error in a message of its own.
    #[derive(Debug, PartialEq, Serialize)]
    struct Checked(Even);

    impl<'de> serde::Deserialize<'de> for Checked {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            Even::deserialize(d)
                .map(Checked)
                .map_err(|e| serde::de::Error::custom(format_args!("checked: {e}")))
        }
    }

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    enum Shape {
        Dot,
        Pair(Even, Even),
        Named { e: Even },
        Boxed(Box<Even>),
    }

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Nest {
        tag: String,
        list: Vec<Option<Even>>,
        map: std::collections::BTreeMap<u8, Shape>,
    }

    #[test]
    fn a_serialize_impls_own_message_is_kept_however_deep() {
        let why = "returned an error: the database handle cannot be sent";
        let direct = encode(&Handle).unwrap_err();
        let named = format!("`{}` {why}", std::any::type_name::<Handle>());
        assert!(direct.ends_with(&named), "{direct}");
        let deep = (1u8, vec![None, Some([Handle])]);
        assert!(
            encode(&deep).unwrap_err().contains(why),
            "{:?}",
            encode(&deep)
        );
        let mut buf = vec![9];
        let err = encode_into(&mut buf, &deep).unwrap_err();
        assert!(err.contains(why), "{err}");
        assert_eq!(buf, [9]);
        let mut map = std::collections::HashMap::new();
        map.insert("k", Some(Handle));
        assert!(encode(&map).unwrap_err().contains(why));
        #[derive(Serialize)]
        enum Holds {
            Tuple(u8, Handle),
            Named { n: u8, h: Handle },
            Newtype(Handle),
        }
        #[derive(Serialize)]
        struct Record {
            n: u8,
            held: Holds,
        }
        for held in [Holds::Tuple(1, Handle), Holds::Named { n: 1, h: Handle }] {
            let err = encode(&Record { n: 0, held }).unwrap_err();
            assert!(err.ends_with(why), "{err}");
        }
        assert!(encode(&Holds::Newtype(Handle)).unwrap_err().ends_with(why));
    }

    #[test]
    fn a_deserialize_impls_own_message_is_kept_however_deep() {
        let odd = encode(&Even(3)).unwrap();
        let err = decode::<Even>(&odd).unwrap_err();
        assert!(err.ends_with("Even` returned an error: 3 is odd"), "{err}");
        let wrapped = decode::<Checked>(&odd).unwrap_err();
        assert!(
            wrapped.ends_with("returned an error: checked: 3 is odd"),
            "{wrapped}"
        );
        let shapes = [
            Shape::Pair(Even(2), Even(5)),
            Shape::Named { e: Even(5) },
            Shape::Boxed(Box::new(Even(5))),
        ];
        for shape in shapes {
            let mut map = std::collections::BTreeMap::new();
            map.insert(1, Shape::Dot);
            map.insert(2, shape);
            let nest = Nest {
                tag: "t".into(),
                list: vec![None, Some(Even(4))],
                map,
            };
            let err = decode::<Nest>(&encode(&nest).unwrap()).unwrap_err();
            assert!(err.ends_with("returned an error: 5 is odd"), "{err}");
        }
        let nest = Nest {
            tag: "t".into(),
            list: vec![Some(Even(4)), Some(Even(9))],
            map: Default::default(),
        };
        let err = decode::<Nest>(&encode(&nest).unwrap()).unwrap_err();
        assert!(err.ends_with("returned an error: 9 is odd"), "{err}");
    }

    /// serde's own messages (an enum's unknown variant) come through the same way; the format's
    /// own errors keep their text.
    #[test]
    fn serdes_messages_and_the_formats_errors_read_as_before() {
        let err = decode::<Shape>(&[7]).unwrap_err();
        assert!(err.contains("invalid value: integer `7`"), "{err}");
        let err = decode::<(u32, String)>(&encode(&(7u32, "x")).unwrap()[..2]).unwrap_err();
        assert!(err.contains("Hit the end of buffer"), "{err}");
        let err = decode::<bool>(&[2]).unwrap_err();
        assert!(err.contains("bool"), "{err}");
    }
}
