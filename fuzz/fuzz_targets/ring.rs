//! Fuzzes the parent's side of the shared-memory reply ring against a scripted hostile worker:
//! appends and arbitrary tails; the parent may only ever read frames, refuse the ring, or refuse
//! a frame.
#![no_main]

use concurrent_futures::__private::check_ring_consumer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check_ring_consumer(data);
});
