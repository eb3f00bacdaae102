//! The serde format of everything that crosses between processes — arguments, results and
//! errors: [postcard](https://docs.rs/postcard), a compact, documented and stable format
//! (varint integers, length-prefixed sequences, no field names). Public for tests that build raw
//! frames; not part of the stable API.
//!
//! Chosen by measurement (`cargo run --release -p benchmarks --bin bench -- codec`, see
//! `BENCHMARKS.md`) among maintained serde formats. Like any non-self-describing format it
//! does not support `deserialize_any` (`#[serde(untagged)]`, `flatten`, `serde_json::Value`):
//! such a type fails its task with a serialization error that says so. An error that a type's own
//! `Serialize`/`Deserialize` raises (`Error::custom(msg)`) is reported with the type's name but
//! without `msg`, which postcard does not keep. Decoding is strict: bytes
//! left over after the value are an error, so a frame means exactly one thing.
//!
//! ```
//! use concurrent_futures::process::codec;
//! let bytes = codec::encode(&(7u32, "seven".to_string())).unwrap();
//! let back: (u32, String) = codec::decode(&bytes).unwrap();
//! assert_eq!(back, (7, "seven".to_string()));
//! assert!(codec::decode::<(u32, String)>(&bytes[..3]).is_err()); // truncated: an error
//! ```

use serde::{de::DeserializeOwned, Serialize};

/// Encodes `value`.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
    postcard::to_stdvec(value).map_err(describe::<T>)
}

/// Appends the encoding of `value` to `buf` (a frame under construction, or a batch of results
/// built in one buffer); on an error `buf` keeps what it held before.
pub fn encode_into<T: Serialize + ?Sized>(buf: &mut Vec<u8>, value: &T) -> Result<(), String> {
    let start = buf.len();
    postcard::serialize_with_flavor(value, Append(buf)).map_err(|e| {
        buf.truncate(start);
        describe::<T>(e)
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
    let (value, rest) = postcard::take_from_bytes::<T>(bytes).map_err(describe::<T>)?;
    if !rest.is_empty() {
        return Err(format!(
            "{} bytes left over after the value (a different type was sent)",
            rest.len()
        ));
    }
    Ok(value)
}

/// One line naming the type and what went wrong.
pub(crate) fn describe<T: ?Sized>(e: postcard::Error) -> String {
    let ty = std::any::type_name::<T>();
    match e {
        postcard::Error::WontImplement => format!(
            "`{ty}` needs a self-describing format (`deserialize_any`: `#[serde(untagged)]`, \
             `flatten`, `serde_json::Value`), which the process engine's format does not support"
        ),
        // postcard keeps no message for errors a type's own impl raises (`Error::custom`).
        postcard::Error::SerdeSerCustom => {
            format!("the `Serialize` impl of `{ty}` returned an error")
        }
        postcard::Error::SerdeDeCustom => {
            format!("the `Deserialize` impl of `{ty}` returned an error")
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
}
