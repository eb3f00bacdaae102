//! The executor suite (`tests/suite/`) run against [`ThreadPoolExecutor`].

mod suite;

use concurrent_futures::ThreadPoolExecutor;

suite::executor_suite!(|workers| ThreadPoolExecutor::with_max_workers(workers).unwrap());
