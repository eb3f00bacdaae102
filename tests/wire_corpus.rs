//! Replays the fuzz corpora of the process engine's frame decoder (`fuzz/corpus/wire`) and of
//! its shared-memory rings (`fuzz/corpus/ring`, the reply ring; `fuzz/corpus/task_ring`): every
//! input must decode or be rejected without a panic, the same way on every decoding path.
//! The fuzzer itself runs with `cargo +nightly fuzz run wire` (see README, "Reliability").

#![cfg(all(any(unix, windows), feature = "process"))]

use concurrent_futures::__private::wire;

#[test]
fn corpus_replays_cleanly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/wire");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("the corpus directory exists") {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        wire::check_decoder(&bytes, 1 << 16);
        n += 1;
    }
    assert!(n >= 10, "corpus has {n} inputs");
}

/// The same for the shared-memory ring's fuzz corpus (`fuzz/corpus/ring`, `cargo +nightly fuzz
/// run ring`): the parent's side of a reply ring against each scripted hostile worker.
#[test]
fn ring_corpus_replays_cleanly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/ring");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("the corpus directory exists") {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        concurrent_futures::__private::check_ring_consumer(&bytes);
        n += 1;
    }
    assert!(n >= 10, "corpus has {n} inputs");
}

/// The same for the task ring's (`cargo +nightly fuzz run task_ring`): the parent's writing
/// side against each scripted hostile worker.
#[test]
fn task_ring_corpus_replays_cleanly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/task_ring");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("the corpus directory exists") {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        concurrent_futures::__private::check_ring_producer(&bytes);
        n += 1;
    }
    assert!(n >= 10, "corpus has {n} inputs");
}

#[test]
fn rejects_oversized_and_truncated() {
    let mut f = wire::begin(wire::CALL, 9, Some(("m::f", 0)));
    f.extend_from_slice(&[1, 2, 3]);
    wire::finish(&mut f, 1 << 16).unwrap();
    assert!(wire::decode(&f, 1 << 16).is_ok());
    assert!(wire::decode(&f, 8).is_err());
    assert!(wire::decode(&f[..f.len() - 1], 1 << 16).is_err());
}
