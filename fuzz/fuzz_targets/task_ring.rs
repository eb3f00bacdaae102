//! Fuzzes the parent's side of the shared-memory task ring against a scripted hostile worker:
//! frames queued and written as room comes, reads, replies, and arbitrary `head`s; the parent
//! may only ever write into room the worker showed, or refuse the ring.
#![no_main]

use concurrent_futures::__private::check_ring_producer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check_ring_producer(data);
});
