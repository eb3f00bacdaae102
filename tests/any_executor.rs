//! The executor suite (`tests/suite/`) run against [`AnyExecutor`] holding a process pool, so
//! that every call through the enum reaches its engine; and the choice of engine from a value.
#![cfg(all(any(unix, windows), feature = "process"))]

mod suite;

use concurrent_futures::{AnyExecutor, Engine, Executor, ThreadPoolExecutor};

suite::executor_suite!(|workers| AnyExecutor::new(Engine::Processes, Some(workers)).unwrap());

#[test]
fn each_engine_is_built_from_its_name() {
    for (name, engine) in [
        ("threads", Engine::Threads),
        ("Thread", Engine::Threads),
        ("processes", Engine::Processes),
        (" process ", Engine::Processes),
    ] {
        let parsed: Engine = name.parse().unwrap();
        assert_eq!(parsed, engine, "{name}");
        let pool = AnyExecutor::new(parsed, Some(2)).unwrap();
        assert_eq!((pool.engine(), pool.max_workers()), (engine, 2));
        assert_eq!(pool.default_buffer_size(), 8);
        pool.shutdown(true, false);
    }
    let err = "gpu".parse::<Engine>().unwrap_err().to_string();
    assert!(err.contains("use threads, processes or cluster"), "{err}");
    assert!(AnyExecutor::new(Engine::Processes, Some(0)).is_err());
}

#[cfg(not(feature = "mpi"))]
#[test]
fn an_engine_left_out_of_the_build_names_its_feature() {
    let err = AnyExecutor::new(Engine::Cluster, Some(1)).unwrap_err();
    assert!(
        err.to_string().contains("enable the `mpi` feature"),
        "{err}"
    );
}

#[test]
fn any_executor_wraps_a_pool_built_elsewhere() {
    let pool: AnyExecutor = ThreadPoolExecutor::with_max_workers(3).unwrap().into();
    assert_eq!(pool.engine(), Engine::Threads);
    assert!(format!("{pool:?}").starts_with("ThreadPoolExecutor"));
}
