//! The executor suite (`tests/suite/`) run against [`ThreadPoolExecutor`].

mod suite;

use concurrent_futures::ThreadPoolExecutor;

suite::executor_suite!(|workers| ThreadPoolExecutor::with_max_workers(workers).unwrap());

#[test]
#[should_panic(
    expected = "MapOptions::chunksize(0): a chunk holds at least 1 item; pass 1 or more"
)]
fn chunksize_zero_is_refused_with_the_fix() {
    let _ = concurrent_futures::MapOptions::new().chunksize(0);
}

#[test]
#[should_panic(expected = "MapOptions::buffer_size(0): a map needs room for at least 1 task")]
fn buffer_size_zero_is_refused_with_the_fix() {
    let _ = concurrent_futures::MapOptions::new().buffer_size(0);
}
