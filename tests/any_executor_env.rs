//! [`AnyExecutor::from_env`]: the engine and the worker count from the environment. One test in
//! its own binary, so that no other thread reads the environment while it changes.
#![cfg(all(any(unix, windows), feature = "process"))]

use concurrent_futures::{AnyExecutor, Engine, Executor};

const ENGINE: &str = "CONCURRENT_FUTURES_ENGINE";
const WORKERS: &str = "CONCURRENT_FUTURES_MAX_WORKERS";

fn from(engine: Option<&str>, workers: Option<&str>) -> Result<AnyExecutor, String> {
    for (k, v) in [(ENGINE, engine), (WORKERS, workers)] {
        match v {
            Some(v) => std::env::set_var(k, v),
            None => std::env::remove_var(k),
        }
    }
    AnyExecutor::from_env().map_err(|e| e.to_string())
}

#[test]
fn the_environment_chooses_the_engine_and_its_size() {
    let p = from(None, None).unwrap();
    assert_eq!(p.engine(), Engine::Threads, "threads when unset");
    p.shutdown(true, false);

    let p = from(Some("processes"), Some("2")).unwrap();
    assert_eq!((p.engine(), p.max_workers()), (Engine::Processes, 2));
    p.shutdown(true, false);

    let p = from(Some(""), Some("3")).unwrap();
    assert_eq!(
        (p.engine(), p.max_workers()),
        (Engine::Threads, 3),
        "empty is unset"
    );
    p.shutdown(true, false);

    let err = from(Some("fibers"), None).unwrap_err();
    assert!(
        err.contains("CONCURRENT_FUTURES_ENGINE: unknown engine `fibers`"),
        "{err}"
    );
    let err = from(Some("threads"), Some("lots")).unwrap_err();
    assert!(
        err.contains("CONCURRENT_FUTURES_MAX_WORKERS=\"lots\" is not a number"),
        "{err}"
    );
    let err = from(Some("threads"), Some("0")).unwrap_err();
    assert!(err.contains("max_workers must be greater than 0"), "{err}");
}
