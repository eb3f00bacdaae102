//! A subscriber that panics whenever the engine calls it costs only the trace: every future
//! still completes with its value, the pool threads survive, and the program does not abort.
//! One test per subscriber method (`new_span`, `record`, `event`, `enter`, `exit`, `try_close`,
//! `clone_span`, `current_span`, and `exit` with `event`, which panics twice on one path), each
//! against the thread engine (`submit`, `map`) and the process engine (`submit_fn`, `map`, and a
//! task retried after it killed its worker, whose first span is replaced). Its own binary: the
//! subscriber is the global default; the tests take turns at choosing what it panics in.
#![cfg(all(any(unix, windows), feature = "tracing", feature = "process"))]

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, Once};
use std::time::Duration;

use concurrent_futures::{register, MapOptions, ProcessPoolExecutor, ThreadPoolExecutor};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use tracing_core::span::Current;

#[path = "suite/util.rs"]
mod util;

const NEW_SPAN: u32 = 1 << 0;
const RECORD: u32 = 1 << 1;
const EVENT: u32 = 1 << 2;
const ENTER: u32 = 1 << 3;
const EXIT: u32 = 1 << 4;
const CLOSE: u32 = 1 << 5;
const CLONE: u32 = 1 << 6;
const CURRENT: u32 = 1 << 7;

/// The methods the subscriber panics in now.
static HOSTILE: AtomicU32 = AtomicU32::new(0);

fn strike(method: u32, name: &str) {
    if HOSTILE.load(Ordering::SeqCst) & method != 0 {
        panic!("hostile subscriber: {name}");
    }
}

std::thread_local! {
    /// The spans entered on this thread, innermost last (for `current_span`).
    static STACK: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

struct Hostile {
    next: AtomicU64,
    meta: Mutex<HashMap<u64, &'static Metadata<'static>>>,
}

impl Subscriber for Hostile {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, a: &Attributes<'_>) -> Id {
        if a.metadata().name() == "task" {
            strike(NEW_SPAN, "new_span");
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.meta).insert(id, a.metadata());
        Id::from_u64(id)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {
        strike(RECORD, "record");
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, e: &Event<'_>) {
        if e.metadata().target().starts_with("concurrent_futures") {
            strike(EVENT, "event");
        }
    }
    fn enter(&self, id: &Id) {
        strike(ENTER, "enter");
        STACK.with(|s| s.borrow_mut().push(id.into_u64()));
    }
    fn exit(&self, _: &Id) {
        STACK.with(|s| s.borrow_mut().pop());
        strike(EXIT, "exit");
    }
    fn clone_span(&self, id: &Id) -> Id {
        strike(CLONE, "clone_span");
        id.clone()
    }
    fn try_close(&self, _: Id) -> bool {
        strike(CLOSE, "try_close");
        false
    }
    fn current_span(&self) -> Current {
        strike(CURRENT, "current_span");
        let top = STACK.with(|s| s.borrow().last().copied());
        match top.and_then(|id| Some((id, *lock(&self.meta).get(&id)?))) {
            Some((id, meta)) => Current::new(Id::from_u64(id), meta),
            None => Current::none(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Clears the subscriber's hostility when dropped, so that a failing test unwinds in peace.
struct Hostility;

impl Hostility {
    fn set(methods: u32) -> Self {
        HOSTILE.store(methods, Ordering::SeqCst);
        Hostility
    }
}

impl Drop for Hostility {
    fn drop(&mut self) {
        HOSTILE.store(0, Ordering::SeqCst);
    }
}

/// Runs every engine's case with the subscriber panicking in `methods`, inside a span of the
/// test's own (so that tasks capture, clone and later close a real parent span). The test's
/// own span is entered before the subscriber turns hostile and left after it is calm again.
fn hostile_in(methods: u32) {
    static SERIAL: Mutex<()> = Mutex::new(());
    static INSTALL: Once = Once::new();
    let _turn = lock(&SERIAL);
    INSTALL.call_once(|| {
        let hostile = Hostile {
            next: AtomicU64::new(1),
            meta: Mutex::new(HashMap::new()),
        };
        tracing::subscriber::set_global_default(hostile).expect("the only subscriber");
    });
    let user = tracing::info_span!("request");
    let _in_user = user.enter();
    let _hostility = Hostility::set(methods);
    threads();
    processes();
}

fn chatty(x: u64) -> u64 {
    tracing::info!("from the worker");
    x * 2
}

/// Records an attempt in `dir`, and kills its own worker on the first; returns `x * 2`.
fn crash_once((dir, x): (String, u64)) -> u64 {
    let n = std::fs::read_dir(&dir).unwrap().count() + 1;
    std::fs::write(format!("{dir}/{n}"), b"").unwrap();
    if n == 1 {
        // The worker dies at once, as if the OOM killer took it.
        util::kill_self();
    }
    chatty(x)
}

register!(chatty, crash_once);

const LIMIT: Duration = Duration::from_secs(60);

/// Every task runs, on the pool's one thread: none died of a panic that got out.
fn threads() {
    let pool = ThreadPoolExecutor::with_max_workers(1).unwrap();
    let ran_on = |x: u64| (x * 3, std::thread::current().id());
    let mut first = pool.submit(move || ran_on(0)).unwrap();
    let worker = first.result_timeout(LIMIT).expect("thread submit").1;
    for i in 1..4 {
        let mut f = pool.submit(move || ran_on(i)).unwrap();
        let on_the_one_thread = Ok((i * 3, worker));
        assert_eq!(f.result_timeout(LIMIT), on_the_one_thread, "thread submit");
    }
    let opts = MapOptions::new().timeout(LIMIT);
    let out: Vec<_> = pool.map_with(ran_on, 0..6, opts).collect();
    let expected: Vec<_> = (0..6).map(|x| Ok((x * 3, worker))).collect();
    assert_eq!(out, expected, "thread map");
}

fn processes() {
    let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    for i in 0..3 {
        let mut f = pool.submit_fn(chatty, i).unwrap();
        assert_eq!(f.result_timeout(LIMIT), Ok(i * 2), "process submit");
    }
    let opts = MapOptions::new().timeout(LIMIT);
    let out: Vec<_> = pool.map_with(chatty, 0..6, opts).collect();
    assert_eq!(
        out,
        (0..6).map(|x| Ok(x * 2)).collect::<Vec<_>>(),
        "process map"
    );
    retried();
}

/// A task whose worker dies under it once runs again (its first span is replaced).
fn retried() {
    let dir = std::env::temp_dir().join(format!(
        "cf-hostile-{}-{}",
        std::process::id(),
        HOSTILE.load(Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .retries(1)
        .build()
        .unwrap();
    let arg = (dir.display().to_string(), 7);
    let mut f = pool.submit_fn(crash_once, arg).unwrap();
    assert_eq!(
        f.result_timeout(LIMIT),
        Ok(14),
        "retried after its worker died"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_subscriber_panicking_in_new_span_record_and_event_loses_the_trace_not_the_task() {
    hostile_in(NEW_SPAN | RECORD | EVENT);
}

#[test]
fn a_subscriber_panicking_in_enter_loses_the_trace_not_the_task() {
    hostile_in(ENTER);
}

#[test]
fn a_subscriber_panicking_in_exit_loses_the_trace_not_the_task() {
    hostile_in(EXIT);
}

/// An event inside the task's span panics, and leaving the span while that unwinds panics
/// again: only a contained exit keeps the program alive.
#[test]
fn a_subscriber_panicking_in_exit_and_event_loses_the_trace_not_the_task() {
    hostile_in(EXIT | EVENT);
}

#[test]
fn a_subscriber_panicking_in_try_close_loses_the_trace_not_the_task() {
    hostile_in(CLOSE);
}

#[test]
fn a_subscriber_panicking_in_clone_span_loses_the_trace_not_the_task() {
    hostile_in(CLONE);
}

#[test]
fn a_subscriber_panicking_in_current_span_loses_the_trace_not_the_task() {
    hostile_in(CURRENT);
}
