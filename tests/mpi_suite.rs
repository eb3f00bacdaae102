//! The executor suite (`tests/suite/`) run against [`MpiPoolExecutor`] in spawned mode: each
//! case gets its own pool of `workers` spawned worker ranks of one local worker each.
#![cfg(feature = "mpi")]

mod suite;

use concurrent_futures::MpiPoolExecutor;

suite::executor_suite!(|workers| MpiPoolExecutor::spawn(workers).unwrap());

/// A map on the cluster engine keeps a deep buffer: 64 tasks per worker (a rank's window of
/// up to 32 per local worker, and as many again), against 4 on the local engines.
#[test]
fn cluster_map_buffer_is_sixty_four_per_worker() {
    use concurrent_futures::Executor;
    let pool = MpiPoolExecutor::spawn(2).unwrap();
    assert_eq!(pool.default_buffer_size(), 128);
    assert_eq!(Executor::default_buffer_size(&pool), 128);
    pool.shutdown(true, false);
}
