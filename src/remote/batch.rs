//! The reply to a chunk (a `CALL` with `FLAG_BATCH`): one result per item, each encoded on its
//! own, so that an item whose result fails to encode in the worker, or to decode in the parent,
//! fails only itself. On the wire it is the codec's encoding of
//! `Vec<Result<Vec<u8>, RemoteError>>` (a test pins that); this file writes and reads it without
//! a buffer per item: the worker encodes every item's result into one buffer ([`Replies`]), and
//! the parent decodes each item straight from the reply's bytes ([`decode`]).

use std::ops::Range;

use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Serialize, Serializer};

use super::codec;
use super::registry::RemoteError;

/// A batch reply under construction in the worker.
pub(crate) struct Replies {
    /// Every item's encoded result, one after another.
    bytes: Vec<u8>,
    /// Each item: where its result lies in `bytes`, or its error.
    items: Vec<Result<Range<usize>, RemoteError>>,
}

impl Replies {
    pub(crate) fn with_capacity(items: usize) -> Self {
        Replies {
            bytes: Vec::new(),
            items: Vec::with_capacity(items),
        }
    }

    /// Adds one item: `encode` appends its result to the buffer it is given, or fails the item
    /// (whatever it appended before failing is discarded).
    pub(crate) fn push(&mut self, encode: impl FnOnce(&mut Vec<u8>) -> Result<(), RemoteError>) {
        let start = self.bytes.len();
        match encode(&mut self.bytes) {
            Ok(()) => self.items.push(Ok(start..self.bytes.len())),
            Err(e) => {
                self.bytes.truncate(start);
                self.items.push(Err(e));
            }
        }
    }

    /// The reply's payload.
    pub(crate) fn encode(&self) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(self.bytes.len() + 3 * self.items.len() + 8);
        codec::encode_into(&mut out, self)?;
        Ok(out)
    }
}

/// Bytes written as the codec writes a `Vec<u8>` (a length, then the bytes), in one call.
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl Serialize for Replies {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.items.len()))?;
        for item in &self.items {
            let item: Result<Bytes<'_>, &RemoteError> = match item {
                Ok(r) => Ok(Bytes(&self.bytes[r.clone()])),
                Err(e) => Err(e),
            };
            seq.serialize_element(&item)?;
        }
        seq.end()
    }
}

/// Reads a batch reply: `item` turns each item (its result's bytes, borrowed from `bytes`, or
/// the error the worker sent) into a value, in order. Fails if the reply itself is malformed
/// (truncated, or bytes left over).
pub(crate) fn decode<T>(
    bytes: &[u8],
    item: impl FnMut(Result<&[u8], RemoteError>) -> T,
) -> Result<Vec<T>, String> {
    let mut de = postcard::Deserializer::from_bytes(bytes);
    let out = Items(item)
        .deserialize(&mut de)
        .map_err(codec::describe::<Vec<Result<Vec<u8>, RemoteError>>>)?;
    let rest = de
        .finalize()
        .map_err(codec::describe::<Vec<Result<Vec<u8>, RemoteError>>>)?;
    if !rest.is_empty() {
        return Err(format!(
            "{} bytes left over after the batch reply",
            rest.len()
        ));
    }
    Ok(out)
}

/// Visits the reply's sequence, handing each item to the closure as it is read.
struct Items<F>(F);

impl<'de, T, F> DeserializeSeed<'de> for Items<F>
where
    F: FnMut(Result<&'de [u8], RemoteError>) -> T,
{
    type Value = Vec<T>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Vec<T>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T, F> Visitor<'de> for Items<F>
where
    F: FnMut(Result<&'de [u8], RemoteError>) -> T,
{
    type Value = Vec<T>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a batch reply")
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Vec<T>, A::Error> {
        // The length is the worker's word: room is reserved only for what a reply of a sane
        // size holds, and grows as items are read.
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element::<Result<&'de [u8], RemoteError>>()? {
            out.push((self.0)(item));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Result<Vec<u8>, RemoteError>> {
        vec![
            Ok(codec::encode(&300u64).unwrap()),
            Err(RemoteError::BadResult("too big".into())),
            Ok(Vec::new()),
            Ok(vec![7; 200]),
        ]
    }

    fn build(items: &[Result<Vec<u8>, RemoteError>]) -> Replies {
        let mut r = Replies::with_capacity(items.len());
        for item in items {
            r.push(|buf| match item {
                Ok(b) => {
                    buf.extend_from_slice(b);
                    Ok(())
                }
                Err(e) => {
                    buf.extend_from_slice(b"half-written");
                    Err(e.clone())
                }
            });
        }
        r
    }

    #[test]
    fn the_wire_form_is_a_vec_of_encoded_results() {
        let items = sample();
        assert_eq!(
            build(&items).encode().unwrap(),
            codec::encode(&items).unwrap()
        );
    }

    #[test]
    fn decoding_hands_each_item_over_in_order() {
        let items = sample();
        let bytes = codec::encode(&items).unwrap();
        let back = decode(&bytes, |r| r.map(<[u8]>::to_vec)).unwrap();
        assert_eq!(back, items);
    }

    #[test]
    fn a_malformed_reply_is_an_error() {
        let bytes = codec::encode(&sample()).unwrap();
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut], |_| ()).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer, |_| ()).unwrap_err().contains("left over"));
        // A length far beyond the bytes is refused without reserving for it.
        let huge = codec::encode(&(u32::MAX as usize)).unwrap();
        assert!(decode(&huge, |_| ()).is_err());
    }
}
