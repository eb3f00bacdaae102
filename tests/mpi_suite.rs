//! The executor suite (`tests/suite/`) run against [`MpiPoolExecutor`] in spawned mode: each
//! case gets its own pool of `workers` spawned worker ranks of one local worker each.
#![cfg(feature = "mpi")]

mod suite;

use concurrent_futures::MpiPoolExecutor;

suite::executor_suite!(|workers| MpiPoolExecutor::spawn(workers).unwrap());
