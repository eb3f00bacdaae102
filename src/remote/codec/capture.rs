//! The text a type's own `Serialize` or `Deserialize` gives `Error::custom`, which postcard
//! drops (its `custom` returns a bare `SerdeSerCustom` / `SerdeDeCustom`).
//!
//! # How
//!
//! A serde impl calls `custom` on the error type of the serializer or deserializer it is
//! given, so the message can only be kept by handing it one whose error type keeps it. [`Ser`]
//! and [`De`] wrap postcard's and forward every call to it; their [`Error`] keeps `custom`'s
//! text. Every value nested inside goes through a wrapper too: a compound's element is handed
//! to postcard as a [`Value`] that serializes itself through a fresh [`Ser`]; a visitor
//! ([`Visit`]), a seed ([`Seed`]) and the accessors for sequences, maps and enums do the same
//! on the way in. So whatever impl raises the error, it raises it on [`Error`].
//!
//! Where an error crosses from a wrapper back into postcard (a nested value failed inside one
//! of postcard's own calls), postcard's error type cannot carry it: it waits in a [`Slot`]
//! shared by the wrappers of one call, and is taken back out as the error crosses out of
//! postcard again, one frame up. An outer impl that wraps an inner error
//! (`Error::custom(format!("field x: {e}"))`) sees the inner text in `e`'s `Display`.
//!
//! # When
//!
//! Only after postcard reported such an error: [`serialize_message`] and
//! [`deserialize_message`] run the value's impl again, through the wrappers, to learn the text.
//! The common path (a value that encodes and decodes) is postcard alone, as fast as before; an
//! impl that fails only on its first call gives no message, and the error names the type alone.

use std::cell::Cell;
use std::fmt::{self, Display};

use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, Visitor};
use serde::ser::{self, Serialize, Serializer};

/// The text `value`'s `Serialize` gave `Error::custom`, if a second run through the wrappers
/// ends with one.
pub(super) fn serialize_message<T: Serialize + ?Sized>(value: &T) -> Option<String> {
    let slot = Slot::default();
    let mut out = postcard::Serializer {
        output: postcard::ser_flavors::Size::default(),
    };
    value.serialize(Ser::new(&mut out, &slot)).err()?.message()
}

/// The text `T`'s `Deserialize` gave `Error::custom` on `bytes`, if a second run through the
/// wrappers ends with one.
pub(super) fn deserialize_message<T: DeserializeOwned>(bytes: &[u8]) -> Option<String> {
    let slot = Slot::default();
    let mut de = postcard::Deserializer::from_bytes(bytes);
    T::deserialize(De::new(&mut de, &slot)).err()?.message()
}

// ----- the error and its slot ----------------------------------------------------------------

/// The wrappers' error: the text of `custom`, or of postcard's own error.
#[derive(Debug)]
pub(super) struct Error {
    text: String,
    /// Made by `custom` (an impl's own message), not taken from postcard.
    custom: bool,
}

impl Error {
    fn message(self) -> Option<String> {
        self.custom.then_some(self.text)
    }
}

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error {
            text: msg.to_string(),
            custom: true,
        }
    }
}

impl de::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error {
            text: msg.to_string(),
            custom: true,
        }
    }
}

/// Holds an [`Error`] while postcard carries it up one frame in its own error type.
#[derive(Default)]
pub(super) struct Slot(Cell<Option<Error>>);

impl Slot {
    /// Postcard's error, as it leaves postcard: the error a wrapper inside handed it, if any.
    fn lift<E: Display>(&self, e: E) -> Error {
        self.0.take().unwrap_or_else(|| Error {
            text: e.to_string(),
            custom: false,
        })
    }

    /// A wrapper's error, as it enters a serializer's call: kept here meanwhile.
    fn lower_ser<E: ser::Error>(&self, e: Error) -> E {
        let err = E::custom(&e.text);
        self.0.set(Some(e));
        err
    }

    /// A wrapper's error, as it enters a deserializer's call: kept here meanwhile.
    fn lower_de<E: de::Error>(&self, e: Error) -> E {
        let err = E::custom(&e.text);
        self.0.set(Some(e));
        err
    }
}

// ----- serializing ---------------------------------------------------------------------------

/// A serializer that forwards to `inner` with [`Error`] as its error type.
pub(super) struct Ser<'s, S> {
    inner: S,
    slot: &'s Slot,
}

impl<'s, S> Ser<'s, S> {
    fn new(inner: S, slot: &'s Slot) -> Self {
        Ser { inner, slot }
    }
}

/// A value nested in another: serialized through a [`Ser`] over whatever serializer it is
/// handed.
pub(super) struct Value<'a, 's, T: ?Sized> {
    value: &'a T,
    slot: &'s Slot,
}

impl<T: Serialize + ?Sized> Serialize for Value<'_, '_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let slot = self.slot;
        self.value
            .serialize(Ser::new(s, slot))
            .map_err(|e| slot.lower_ser(e))
    }
}

/// Any of a serializer's compound states (sequence, tuple, map, struct, variants), wrapped.
pub(super) struct Compound<'s, C> {
    inner: C,
    slot: &'s Slot,
}

impl<'s, C> Compound<'s, C> {
    fn value<'a, T: ?Sized>(&self, value: &'a T) -> Value<'a, 's, T> {
        Value {
            value,
            slot: self.slot,
        }
    }
}

/// Forwards `$method(self, $arg: $ty...)` of a serializer to `self.inner`.
macro_rules! forward_ser {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method(self, $($arg: $ty),*) -> Result<S::Ok, Error> {
            let slot = self.slot;
            self.inner.$method($($arg),*).map_err(|e| slot.lift(e))
        }
    )*};
}

/// Forwards a compound-starting method of a serializer, wrapping the state it returns.
macro_rules! forward_compound {
    ($($method:ident($($arg:ident: $ty:ty),*) -> $state:ident;)*) => {$(
        fn $method(self, $($arg: $ty),*) -> Result<Self::$state, Error> {
            let slot = self.slot;
            match self.inner.$method($($arg),*) {
                Ok(inner) => Ok(Compound { inner, slot }),
                Err(e) => Err(slot.lift(e)),
            }
        }
    )*};
}

impl<'s, S: Serializer> Serializer for Ser<'s, S> {
    type Ok = S::Ok;
    type Error = Error;
    type SerializeSeq = Compound<'s, S::SerializeSeq>;
    type SerializeTuple = Compound<'s, S::SerializeTuple>;
    type SerializeTupleStruct = Compound<'s, S::SerializeTupleStruct>;
    type SerializeTupleVariant = Compound<'s, S::SerializeTupleVariant>;
    type SerializeMap = Compound<'s, S::SerializeMap>;
    type SerializeStruct = Compound<'s, S::SerializeStruct>;
    type SerializeStructVariant = Compound<'s, S::SerializeStructVariant>;

    forward_ser! {
        serialize_bool(v: bool);
        serialize_i8(v: i8);
        serialize_i16(v: i16);
        serialize_i32(v: i32);
        serialize_i64(v: i64);
        serialize_i128(v: i128);
        serialize_u8(v: u8);
        serialize_u16(v: u16);
        serialize_u32(v: u32);
        serialize_u64(v: u64);
        serialize_u128(v: u128);
        serialize_f32(v: f32);
        serialize_f64(v: f64);
        serialize_char(v: char);
        serialize_str(v: &str);
        serialize_bytes(v: &[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(name: &'static str);
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str);
    }

    forward_compound! {
        serialize_seq(len: Option<usize>) -> SerializeSeq;
        serialize_tuple(len: usize) -> SerializeTuple;
        serialize_tuple_struct(name: &'static str, len: usize) -> SerializeTupleStruct;
        serialize_tuple_variant(
            name: &'static str, index: u32, variant: &'static str, len: usize
        ) -> SerializeTupleVariant;
        serialize_map(len: Option<usize>) -> SerializeMap;
        serialize_struct(name: &'static str, len: usize) -> SerializeStruct;
        serialize_struct_variant(
            name: &'static str, index: u32, variant: &'static str, len: usize
        ) -> SerializeStructVariant;
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<S::Ok, Error> {
        let slot = self.slot;
        let value = Value { value, slot };
        self.inner.serialize_some(&value).map_err(|e| slot.lift(e))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<S::Ok, Error> {
        let slot = self.slot;
        let value = Value { value, slot };
        self.inner
            .serialize_newtype_struct(name, &value)
            .map_err(|e| slot.lift(e))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, Error> {
        let slot = self.slot;
        let value = Value { value, slot };
        let done = self
            .inner
            .serialize_newtype_variant(name, index, variant, &value);
        done.map_err(|e| slot.lift(e))
    }

    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<S::Ok, Error> {
        let slot = self.slot;
        self.inner.collect_str(value).map_err(|e| slot.lift(e))
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// Implements a compound state's trait for [`Compound`]: each `$method` hands its value(s) on
/// wrapped, `end` (and `skip_field`, where the trait has one) are forwarded.
macro_rules! compound {
    ($trait:ident { $($method:ident($($key:ident: $kty:ty),*; $($value:ident),*);)* } $($skip:ident)?) => {
        impl<C: ser::$trait> ser::$trait for Compound<'_, C> {
            type Ok = C::Ok;
            type Error = Error;
            $(
                fn $method<T: Serialize + ?Sized>(
                    &mut self,
                    $($key: $kty,)*
                    $($value: &T),*
                ) -> Result<(), Error> {
                    $(let $value = self.value($value);)*
                    self.inner.$method($($key,)* $(&$value),*).map_err(|e| self.slot.lift(e))
                }
            )*
            $(
                fn $skip(&mut self, key: &'static str) -> Result<(), Error> {
                    self.inner.$skip(key).map_err(|e| self.slot.lift(e))
                }
            )?
            fn end(self) -> Result<C::Ok, Error> {
                let slot = self.slot;
                self.inner.end().map_err(|e| slot.lift(e))
            }
        }
    };
}

compound!(SerializeSeq { serialize_element(; value); });
compound!(SerializeTuple { serialize_element(; value); });
compound!(SerializeTupleStruct { serialize_field(; value); });
compound!(SerializeTupleVariant { serialize_field(; value); });
compound!(SerializeMap {
    serialize_key(; key);
    serialize_value(; value);
});
compound!(SerializeStruct { serialize_field(key: &'static str; value); } skip_field);
compound!(SerializeStructVariant { serialize_field(key: &'static str; value); } skip_field);

// ----- deserializing -------------------------------------------------------------------------

/// A deserializer that forwards to `inner` with [`Error`] as its error type.
pub(super) struct De<'s, D> {
    inner: D,
    slot: &'s Slot,
}

impl<'s, D> De<'s, D> {
    fn new(inner: D, slot: &'s Slot) -> Self {
        De { inner, slot }
    }
}

/// A visitor handed to the inner deserializer: gives the wrapped one what it is shown, with
/// [`Error`] as its error type, and whatever it is handed to read further, wrapped.
pub(super) struct Visit<'s, V> {
    inner: V,
    slot: &'s Slot,
}

/// A seed handed to the inner deserializer's accessors: deserializes through a [`De`].
pub(super) struct Seed<'s, T> {
    inner: T,
    slot: &'s Slot,
}

/// A sequence's, map's, enum's or variant's accessor, wrapped.
pub(super) struct Access<'s, A> {
    inner: A,
    slot: &'s Slot,
}

impl<'s, A> Access<'s, A> {
    fn seed<T>(&self, inner: T) -> Seed<'s, T> {
        Seed {
            inner,
            slot: self.slot,
        }
    }
    fn visit<V>(&self, inner: V) -> Visit<'s, V> {
        Visit {
            inner,
            slot: self.slot,
        }
    }
}

/// Forwards `$method($args..., visitor)` of a deserializer to `self.inner`, wrapping the visitor.
macro_rules! forward_de {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Error> {
            let slot = self.slot;
            let visitor = Visit { inner: visitor, slot };
            self.inner.$method($($arg,)* visitor).map_err(|e| slot.lift(e))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for De<'_, D> {
    type Error = Error;

    forward_de! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// Forwards `$method($arg)` of a visitor to the wrapped one, lowering its error.
macro_rules! forward_visit {
    ($($method:ident($($arg:ident: $ty:ty)?);)*) => {$(
        fn $method<E: de::Error>(self $(, $arg: $ty)?) -> Result<V::Value, E> {
            let slot = self.slot;
            self.inner.$method::<Error>($($arg)?).map_err(|e| slot.lower_de(e))
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Visit<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit! {
        visit_bool(v: bool);
        visit_i8(v: i8);
        visit_i16(v: i16);
        visit_i32(v: i32);
        visit_i64(v: i64);
        visit_i128(v: i128);
        visit_u8(v: u8);
        visit_u16(v: u16);
        visit_u32(v: u32);
        visit_u64(v: u64);
        visit_u128(v: u128);
        visit_f32(v: f32);
        visit_f64(v: f64);
        visit_char(v: char);
        visit_str(v: &str);
        visit_borrowed_str(v: &'de str);
        visit_string(v: String);
        visit_bytes(v: &[u8]);
        visit_borrowed_bytes(v: &'de [u8]);
        visit_byte_buf(v: Vec<u8>);
        visit_none();
        visit_unit();
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        let slot = self.slot;
        self.inner
            .visit_some(De::new(d, slot))
            .map_err(|e| slot.lower_de(e))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        let slot = self.slot;
        self.inner
            .visit_newtype_struct(De::new(d, slot))
            .map_err(|e| slot.lower_de(e))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        let slot = self.slot;
        let seq = Access { inner: seq, slot };
        self.inner.visit_seq(seq).map_err(|e| slot.lower_de(e))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let slot = self.slot;
        let map = Access { inner: map, slot };
        self.inner.visit_map(map).map_err(|e| slot.lower_de(e))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        let slot = self.slot;
        let data = Access { inner: data, slot };
        self.inner.visit_enum(data).map_err(|e| slot.lower_de(e))
    }
}

impl<'de, T: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<'_, T> {
    type Value = T::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T::Value, D::Error> {
        let slot = self.slot;
        self.inner
            .deserialize(De::new(d, slot))
            .map_err(|e| slot.lower_de(e))
    }
}

impl<'de, A: de::SeqAccess<'de>> de::SeqAccess<'de> for Access<'_, A> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let seed = self.seed(seed);
        self.inner
            .next_element_seed(seed)
            .map_err(|e| self.slot.lift(e))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: de::MapAccess<'de>> de::MapAccess<'de> for Access<'_, A> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let seed = self.seed(seed);
        self.inner
            .next_key_seed(seed)
            .map_err(|e| self.slot.lift(e))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        let seed = self.seed(seed);
        self.inner
            .next_value_seed(seed)
            .map_err(|e| self.slot.lift(e))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'s, 'de, A: de::EnumAccess<'de>> de::EnumAccess<'de> for Access<'s, A> {
    type Error = Error;
    type Variant = Access<'s, A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), Error> {
        let (seed, slot) = (self.seed(seed), self.slot);
        match self.inner.variant_seed(seed) {
            Ok((value, inner)) => Ok((value, Access { inner, slot })),
            Err(e) => Err(slot.lift(e)),
        }
    }
}

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for Access<'_, A> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        let slot = self.slot;
        self.inner.unit_variant().map_err(|e| slot.lift(e))
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        let (seed, slot) = (self.seed(seed), self.slot);
        self.inner
            .newtype_variant_seed(seed)
            .map_err(|e| slot.lift(e))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        let (visitor, slot) = (self.visit(visitor), self.slot);
        self.inner
            .tuple_variant(len, visitor)
            .map_err(|e| slot.lift(e))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let (visitor, slot) = (self.visit(visitor), self.slot);
        self.inner
            .struct_variant(fields, visitor)
            .map_err(|e| slot.lift(e))
    }
}
