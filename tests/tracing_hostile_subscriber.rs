//! A subscriber that panics whenever the engine calls it (a task's span, its fields, the
//! events a worker sent back) costs only the trace: the futures still complete and the pool
//! threads survive. Its own binary: the subscriber is the global default.
#![cfg(all(feature = "tracing", feature = "process"))]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use concurrent_futures::{register, ProcessPoolExecutor, ThreadPoolExecutor};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

struct Hostile(AtomicU64);

impl Subscriber for Hostile {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, a: &Attributes<'_>) -> Id {
        if a.metadata().name() == "task" {
            panic!("hostile subscriber: new_span");
        }
        Id::from_u64(self.0.fetch_add(1, Ordering::Relaxed))
    }
    fn record(&self, _: &Id, _: &Record<'_>) {
        panic!("hostile subscriber: record");
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, e: &Event<'_>) {
        if e.metadata().target().starts_with("concurrent_futures") {
            panic!("hostile subscriber: event");
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn chatty(x: u64) -> u64 {
    tracing::info!("from the worker");
    x * 2
}
register!(chatty);

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn a_panicking_subscriber_loses_the_trace_not_the_task() {
    tracing::subscriber::set_global_default(Hostile(AtomicU64::new(1))).unwrap();
    let threads = ThreadPoolExecutor::with_max_workers(1).unwrap();
    let processes = ProcessPoolExecutor::with_max_workers(1).unwrap();
    for i in 0..3 {
        let mut t = threads.submit(move || i + 1).unwrap();
        assert_eq!(t.result_timeout(LIMIT), Ok(i + 1));
        let mut p = processes.submit_fn(chatty, i).unwrap();
        assert_eq!(
            p.result_timeout(LIMIT),
            Ok(i * 2),
            "the reader thread survived"
        );
    }
}
