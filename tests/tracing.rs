//! The `tracing` feature: a task runs in a `task` span whose parent is the span current at
//! submit (not the worker thread's), with its engine, name, worker, outcome and times; on the
//! process engine the worker's events come back to the parent inside that span. A subscriber
//! written here records what it is given.
#![cfg(all(any(unix, windows), feature = "tracing", feature = "process"))]

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use concurrent_futures::{register, ProcessPoolExecutor, ThreadPoolExecutor};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

#[derive(Debug, Clone)]
struct SpanRec {
    name: String,
    parent: Option<u64>,
    fields: HashMap<String, String>,
}

#[derive(Debug, Clone)]
struct EventRec {
    target: String,
    span: Option<u64>,
    fields: HashMap<String, String>,
}

#[derive(Default)]
struct Log {
    spans: HashMap<u64, SpanRec>,
    meta: HashMap<u64, &'static Metadata<'static>>,
    events: Vec<EventRec>,
}

struct Fields<'a>(&'a mut HashMap<String, String>);
impl Visit for Fields<'_> {
    fn record_debug(&mut self, f: &Field, v: &dyn fmt::Debug) {
        self.0.insert(f.name().into(), format!("{v:?}"));
    }
    fn record_str(&mut self, f: &Field, v: &str) {
        self.0.insert(f.name().into(), v.into());
    }
}

std::thread_local! {
    static STACK: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

struct Recorder {
    next: AtomicU64,
    log: Mutex<Log>,
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, a: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let parent = match a.parent() {
            Some(p) => Some(p.into_u64()),
            None if a.is_contextual() => STACK.with(|s| s.borrow().last().copied()),
            None => None,
        };
        let mut fields = HashMap::new();
        a.record(&mut Fields(&mut fields));
        let rec = SpanRec {
            name: a.metadata().name().into(),
            parent,
            fields,
        };
        let mut log = lock(&self.log);
        log.spans.insert(id, rec);
        log.meta.insert(id, a.metadata());
        Id::from_u64(id)
    }
    fn record(&self, id: &Id, values: &Record<'_>) {
        let mut log = lock(&self.log);
        if let Some(s) = log.spans.get_mut(&id.into_u64()) {
            values.record(&mut Fields(&mut s.fields));
        }
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, e: &Event<'_>) {
        let mut fields = HashMap::new();
        e.record(&mut Fields(&mut fields));
        let span = match e.parent() {
            Some(p) => Some(p.into_u64()),
            None => STACK.with(|s| s.borrow().last().copied()),
        };
        let rec = EventRec {
            target: e.metadata().target().into(),
            span,
            fields,
        };
        lock(&self.log).events.push(rec);
    }
    fn enter(&self, id: &Id) {
        STACK.with(|s| s.borrow_mut().push(id.into_u64()));
    }
    fn exit(&self, _: &Id) {
        STACK.with(|s| s.borrow_mut().pop());
    }
    fn current_span(&self) -> tracing_core::span::Current {
        match STACK.with(|s| s.borrow().last().copied()) {
            Some(id) => match lock(&self.log).meta.get(&id) {
                Some(m) => tracing_core::span::Current::new(Id::from_u64(id), m),
                None => tracing_core::span::Current::none(),
            },
            None => tracing_core::span::Current::none(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn recorder() -> &'static Recorder {
    static R: OnceLock<&'static Recorder> = OnceLock::new();
    R.get_or_init(|| {
        let r: &'static Recorder = Box::leak(Box::new(Recorder {
            next: AtomicU64::new(1),
            log: Mutex::new(Log::default()),
        }));
        struct Fwd(&'static Recorder);
        impl Subscriber for Fwd {
            fn enabled(&self, m: &Metadata<'_>) -> bool {
                self.0.enabled(m)
            }
            fn new_span(&self, a: &Attributes<'_>) -> Id {
                self.0.new_span(a)
            }
            fn record(&self, i: &Id, v: &Record<'_>) {
                self.0.record(i, v)
            }
            fn record_follows_from(&self, a: &Id, b: &Id) {
                self.0.record_follows_from(a, b)
            }
            fn event(&self, e: &Event<'_>) {
                self.0.event(e)
            }
            fn enter(&self, i: &Id) {
                self.0.enter(i)
            }
            fn exit(&self, i: &Id) {
                self.0.exit(i)
            }
            fn current_span(&self) -> tracing_core::span::Current {
                self.0.current_span()
            }
        }
        tracing::subscriber::set_global_default(Fwd(r)).expect("the only subscriber");
        r
    })
}

/// The `task` span whose parent is the span named `parent` with `request = tag`.
fn task_under(tag: &str) -> (u64, SpanRec, Vec<EventRec>) {
    let log = lock(&recorder().log);
    let (&outer, _) = log
        .spans
        .iter()
        .find(|(_, s)| s.name == "request" && s.fields.get("tag").map(String::as_str) == Some(tag))
        .expect("the submitter's span");
    let (&id, task) = log
        .spans
        .iter()
        .find(|(_, s)| s.name == "task" && s.parent == Some(outer))
        .unwrap_or_else(|| panic!("no task span under the submitter's: {:?}", log.spans));
    let events = log
        .events
        .iter()
        .filter(|e| e.span == Some(id))
        .cloned()
        .collect();
    (id, task.clone(), events)
}

fn in_the_worker(x: u64) -> u64 {
    tracing::info!(x, "in the worker");
    tracing::warn!("and a warning");
    x + 1
}
register!(in_the_worker);

#[test]
fn a_thread_pool_task_runs_in_a_span_under_its_submitters() {
    let _ = recorder();
    let pool = ThreadPoolExecutor::with_max_workers(1).unwrap();
    let outer = tracing::info_span!("request", tag = "threads");
    let f = outer.in_scope(|| {
        pool.submit(|| {
            tracing::info!("inside the task");
            5
        })
        .unwrap()
    });
    // Another span current on this thread now: the task's parent is still the one at submit.
    let _other = tracing::info_span!("elsewhere").entered();
    assert_eq!(f.result(), Ok(5));
    pool.shutdown(true, false); // the worker has recorded the outcome
    let (_, task, events) = task_under("threads");
    assert_eq!(task.fields["engine"], "threads");
    assert_eq!(task.fields["outcome"], "ok");
    assert!(task.fields.contains_key("run_us") && task.fields.contains_key("queued_us"));
    assert!(task.fields["task"].contains("closure"), "{task:?}");
    assert!(
        events
            .iter()
            .any(|e| e.fields["message"] == "inside the task"),
        "the task's event is in its span: {events:?}"
    );
}

#[test]
fn a_process_pool_task_has_a_span_and_its_events_come_back() {
    let _ = recorder();
    let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    let outer = tracing::info_span!("request", tag = "processes");
    let f = outer.in_scope(|| pool.submit_fn(in_the_worker, 3).unwrap());
    assert_eq!(f.result(), Ok(4));
    pool.shutdown(true, false);
    let (_, task, events) = task_under("processes");
    assert_eq!(task.fields["engine"], "processes");
    assert_eq!(task.fields["outcome"], "ok");
    assert!(task.fields["task"].contains("in_the_worker"), "{task:?}");
    let from_worker: Vec<_> = events
        .iter()
        .filter(|e| e.target == "concurrent_futures::worker")
        .collect();
    assert_eq!(from_worker.len(), 2, "both events came back: {events:?}");
    assert_eq!(from_worker[0].fields["message"], "in the worker x=3");
    assert_eq!(from_worker[1].fields["message"], "and a warning");
    assert!(from_worker[0].fields["worker_target"].contains("tracing"));
    assert_eq!(from_worker[0].fields["pid"], task.fields["worker"]);
}
