//! A failing initializer is logged once, at error level, with its cause, on both engines
//! (Python logs it at CRITICAL). A logger installed for this test binary records every record.

use std::sync::Mutex;
use std::time::Duration;

use concurrent_futures::ThreadPoolExecutor;

static RECORDS: Mutex<Vec<(log::Level, String)>> = Mutex::new(Vec::new());
/// The tests of this file run one at a time: they count the records they cause.
static SERIAL: Mutex<()> = Mutex::new(());

struct Recorder;

impl log::Log for Recorder {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        RECORDS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((r.level(), r.args().to_string()));
    }
    fn flush(&self) {}
}

fn start() -> std::sync::MutexGuard<'static, ()> {
    let g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let _ = log::set_logger(&Recorder);
    log::set_max_level(log::LevelFilter::Trace);
    RECORDS.lock().unwrap_or_else(|p| p.into_inner()).clear();
    g
}

/// The error-level records mentioning `needle`.
fn errors_mentioning(needle: &str) -> Vec<String> {
    RECORDS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|(l, m)| *l == log::Level::Error && m.contains(needle))
        .map(|(_, m)| m.clone())
        .collect()
}

#[test]
fn thread_pool_logs_a_failing_initializer_once() {
    let _g = start();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(3)
        .initializer(|| panic!("cannot open db-7"))
        .build()
        .unwrap();
    let futures: Vec<_> = (0..3).filter_map(|i| pool.submit(move || i).ok()).collect();
    for mut f in futures {
        assert!(f
            .result_timeout(Duration::from_secs(60))
            .unwrap_err()
            .is_broken());
    }
    pool.shutdown(true, false);
    let logged = errors_mentioning("cannot open db-7");
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0].contains("initializer"), "{logged:?}");
}

#[cfg(all(any(unix, windows), feature = "process"))]
mod process {
    use super::*;
    use concurrent_futures::{register, ProcessPoolExecutor};

    fn init_fails(what: String) {
        panic!("cannot load {what}")
    }
    fn square(x: u64) -> u64 {
        x * x
    }
    register!(init_fails, square);

    #[test]
    fn process_pool_logs_a_failing_initializer_once() {
        let _g = start();
        let pool = ProcessPoolExecutor::builder()
            .max_workers(2)
            .initializer(init_fails, "model-9".to_string())
            .build()
            .unwrap();
        let futures: Vec<_> = (0..4)
            .filter_map(|i| pool.submit_fn(square, i).ok())
            .collect();
        for mut f in futures {
            assert!(f
                .result_timeout(Duration::from_secs(60))
                .unwrap_err()
                .is_broken());
        }
        pool.shutdown(true, false);
        let logged = errors_mentioning("cannot load model-9");
        assert_eq!(logged.len(), 1, "{logged:?}");
        assert!(logged[0].contains("initializer failed"), "{logged:?}");
    }
}
