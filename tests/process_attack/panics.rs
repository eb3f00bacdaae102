//! Panics in user code that the engine, not the task's function, runs: a result's
//! `Deserialize` and `Drop` in the parent (on the thread that reads the worker's replies), an
//! argument's `Deserialize` and a result's `Serialize` and `Drop` in the worker, and a panic
//! message too large for a frame. Each fails (or not) only its own task; the reader thread and
//! the worker go on.

use std::sync::atomic::{AtomicUsize, Ordering};

use concurrent_futures::{register, MapOptions, ProcessPoolExecutor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::util::{eventually, Gate, Scratch, LONG};
use super::{pool, result, serial, shutdown, square, watchdog, worker_pid, Pool};

// ----- values whose serde or Drop panics ------------------------------------------------------

/// Encodes like a `u32`; its `Deserialize` panics (in whichever process decodes it).
#[derive(Debug)]
struct PanicsOnDecode(u32);

impl Serialize for PanicsOnDecode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for PanicsOnDecode {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        panic!("PanicsOnDecode refuses to be decoded")
    }
}

/// Encodes like a `u32`; decoding the value 5 panics, any other value decodes.
#[derive(Debug, PartialEq)]
struct DecodePanicsAtFive(u32);

impl Serialize for DecodePanicsAtFive {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for DecodePanicsAtFive {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = u32::deserialize(d)?;
        assert_ne!(v, 5, "DecodePanicsAtFive refuses to decode 5");
        Ok(DecodePanicsAtFive(v))
    }
}

/// Its `Serialize` panics; decodes like a `u32`.
#[derive(Debug)]
struct PanicsOnEncode(u32);

impl Serialize for PanicsOnEncode {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("PanicsOnEncode({}) refuses to be encoded", self.0)
    }
}

impl<'de> Deserialize<'de> for PanicsOnEncode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u32::deserialize(d).map(PanicsOnEncode)
    }
}

/// How many `BombInParent`s have gone off (in this, the parent, process).
static PARENT_BOMBS: AtomicUsize = AtomicUsize::new(0);

/// Made harmless in the worker; decoded armed, so its `Drop` panics in the parent.
#[derive(Debug)]
struct BombInParent {
    armed: bool,
}

impl Serialize for BombInParent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        7u32.serialize(s)
    }
}

impl<'de> Deserialize<'de> for BombInParent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u32::deserialize(d).map(|_| BombInParent { armed: true })
    }
}

impl Drop for BombInParent {
    fn drop(&mut self) {
        if self.armed {
            PARENT_BOMBS.fetch_add(1, Ordering::SeqCst);
            panic!("BombInParent's Drop panicked");
        }
    }
}

/// Made armed in the worker, where its `Drop` writes a marker file and then panics; decoded
/// harmless in the parent.
#[derive(Debug)]
struct BombInWorker {
    value: u32,
    marker: Option<String>,
}

impl Serialize for BombInWorker {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<'de> Deserialize<'de> for BombInWorker {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u32::deserialize(d).map(|value| BombInWorker {
            value,
            marker: None,
        })
    }
}

impl Drop for BombInWorker {
    fn drop(&mut self) {
        if let Some(path) = self.marker.take() {
            std::fs::write(&path, format!("dropped in {}", std::process::id())).unwrap();
            panic!("BombInWorker's Drop panicked");
        }
    }
}

// ----- task functions ------------------------------------------------------------------------

fn returns_panics_on_decode(x: u32) -> PanicsOnDecode {
    PanicsOnDecode(x)
}

fn returns_decode_panics_at_five(x: u32) -> DecodePanicsAtFive {
    DecodePanicsAtFive(x)
}

/// Waits for the gate, then returns a value that is harmless here and armed in the parent.
fn hold_then_bomb_in_parent(gate: String) -> BombInParent {
    super::util::hold_until_open(&gate);
    BombInParent { armed: false }
}

fn takes_panics_on_decode(a: PanicsOnDecode) -> u32 {
    a.0
}

fn returns_panics_on_encode(x: u32) -> PanicsOnEncode {
    PanicsOnEncode(x)
}

fn returns_bomb_in_worker((value, marker): (u32, String)) -> BombInWorker {
    BombInWorker {
        value,
        marker: Some(marker),
    }
}

/// Panics with a message of `n` characters.
fn panic_long(n: usize) -> u32 {
    std::panic::panic_any("x".repeat(n))
}

register!(
    returns_panics_on_decode,
    returns_decode_panics_at_five,
    hold_then_bomb_in_parent,
    takes_panics_on_decode,
    returns_panics_on_encode,
    returns_bomb_in_worker,
    panic_long,
);

// ----- A: parent side ------------------------------------------------------------------------

/// A result's `Deserialize` panicking in the parent fails only its future; the pool goes on.
#[test]
fn a_result_whose_decode_panics_fails_only_its_future() {
    let _s = serial();
    let _w = watchdog();
    let pool = pool(1);
    let before = worker_pid(&pool);
    let err = result(pool.submit_fn(returns_panics_on_decode, 3).unwrap()).unwrap_err();
    assert!(err.is_panic(), "{err:?}");
    let msg = err.panic_message().unwrap_or_default();
    assert!(msg.contains("decoding the result panicked"), "{msg}");
    assert!(
        msg.contains("PanicsOnDecode refuses to be decoded"),
        "{msg}"
    );
    for x in 0..5 {
        assert_eq!(result(pool.submit_fn(square, x).unwrap()), Ok(x * x));
    }
    assert_eq!(worker_pid(&pool), before, "the worker was not at fault");
    shutdown(&pool);
    assert!(pool.worker_pids().is_empty());
}

/// A result's `Drop` panicking inside the engine (future already dropped) harms nothing.
#[test]
fn a_result_whose_drop_panics_in_the_engine_harms_nothing() {
    let _s = serial();
    let _w = watchdog();
    let pool = pool(1);
    let gate = Gate::closed();
    let before = worker_pid(&pool);
    let bombs = PARENT_BOMBS.load(Ordering::SeqCst);
    let f = pool
        .submit_fn(hold_then_bomb_in_parent, gate.path())
        .unwrap();
    assert!(eventually(LONG, || f.running()), "{f:?}");
    drop(f); // the value, when it arrives, has no owner but the engine
    gate.open();
    assert!(
        eventually(LONG, || PARENT_BOMBS.load(Ordering::SeqCst) > bombs),
        "the result was never dropped"
    );
    for x in 0..5 {
        assert_eq!(result(pool.submit_fn(square, x).unwrap()), Ok(x * x));
    }
    assert_eq!(worker_pid(&pool), before);
    shutdown(&pool);
    assert!(pool.worker_pids().is_empty());
}

/// In a chunked `map`, an item whose result's `Deserialize` panics fails that item only.
#[test]
fn a_chunked_map_item_whose_decode_panics_fails_only_that_item() {
    let _s = serial();
    let _w = watchdog();
    let pool = pool(1);
    let before = worker_pid(&pool);
    let opts = MapOptions::new().chunksize(4).timeout(LONG);
    let results: Vec<_> = pool
        .map_with(returns_decode_panics_at_five, 0..12u32, opts)
        .collect();
    assert_eq!(results.len(), 12, "{results:?}");
    for (i, r) in results.iter().enumerate() {
        if i == 5 {
            let err = r.as_ref().unwrap_err();
            assert!(err.is_panic(), "item 5: {err:?}");
            let msg = err.panic_message().unwrap_or_default();
            assert!(msg.contains("decoding the result panicked"), "{msg}");
        } else {
            assert_eq!(r, &Ok(DecodePanicsAtFive(i as u32)), "item {i}");
        }
    }
    assert_eq!(result(pool.submit_fn(square, 9).unwrap()), Ok(81));
    assert_eq!(worker_pid(&pool), before);
    shutdown(&pool);
}

// ----- B: worker side ------------------------------------------------------------------------

/// An argument's `Deserialize` panicking in the worker is a panic error; the worker survives.
#[test]
fn an_argument_whose_decode_panics_in_the_worker_keeps_the_worker() {
    let _s = serial();
    let _w = watchdog();
    let pool = pool(1);
    let before = worker_pid(&pool);
    let err = result(
        pool.submit_fn(takes_panics_on_decode, PanicsOnDecode(1))
            .unwrap(),
    )
    .unwrap_err();
    assert!(err.is_panic(), "{err:?}");
    let msg = err.panic_message().unwrap_or_default();
    assert!(msg.contains("decoding the argument panicked"), "{msg}");
    assert!(
        msg.contains("PanicsOnDecode refuses to be decoded"),
        "{msg}"
    );
    assert_eq!(worker_pid(&pool), before, "the worker died");
    shutdown(&pool);
}

/// A result's `Serialize` panicking in the worker is a panic error; the worker survives.
#[test]
fn a_result_whose_encode_panics_in_the_worker_keeps_the_worker() {
    let _s = serial();
    let _w = watchdog();
    let pool = pool(1);
    let before = worker_pid(&pool);
    let err = result(pool.submit_fn(returns_panics_on_encode, 2).unwrap()).unwrap_err();
    assert!(err.is_panic(), "{err:?}");
    let msg = err.panic_message().unwrap_or_default();
    assert!(msg.contains("encoding the result panicked"), "{msg}");
    assert!(msg.contains("PanicsOnEncode(2) refuses"), "{msg}");
    assert_eq!(worker_pid(&pool), before, "the worker died");
    shutdown(&pool);
}

/// A result's `Drop` panicking in the worker (after encoding) still delivers the value.
#[test]
fn a_result_whose_drop_panics_in_the_worker_is_still_delivered() {
    let _s = serial();
    let _w = watchdog();
    let scratch = Scratch::new();
    let marker = scratch.file("dropped");
    let pool = pool(1);
    let before = worker_pid(&pool);
    let got = result(
        pool.submit_fn(returns_bomb_in_worker, (42, marker.clone()))
            .unwrap(),
    );
    let got = got.map(|b| b.value);
    assert_eq!(got, Ok(42));
    // The worker's copy did go off there.
    let note = std::fs::read_to_string(&marker).expect("the worker dropped its value");
    assert_eq!(note, format!("dropped in {before}"));
    assert_eq!(worker_pid(&pool), before, "the worker died");
    shutdown(&pool);
}

/// A panic message over the frame limit arrives cut to fit, marked; the worker survives.
#[test]
fn a_panic_message_over_the_frame_limit_is_cut_and_keeps_the_worker() {
    let _s = serial();
    let _w = watchdog();
    let pool = Pool::new(
        ProcessPoolExecutor::builder()
            .max_workers(1)
            .max_frame_bytes(4096)
            .build()
            .unwrap(),
    );
    let before = worker_pid(&pool);
    let err = result(pool.submit_fn(panic_long, 100_000).unwrap()).unwrap_err();
    assert!(err.is_panic(), "{err:?}");
    let msg = err.panic_message().unwrap_or_default();
    assert!(msg.len() < 4096, "{} bytes", msg.len());
    assert!(msg.starts_with("xxxx"), "{msg}");
    assert!(msg.contains("bytes cut]"), "{msg}");
    assert_eq!(worker_pid(&pool), before, "the worker died");
    // Still within the limit for the next task.
    assert_eq!(result(pool.submit_fn(square, 12).unwrap()), Ok(144));
    shutdown(&pool);
}
