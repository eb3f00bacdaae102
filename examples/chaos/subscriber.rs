//! With the `tracing` feature: a global subscriber that panics now and then in every callback
//! the engines' task spans reach (`new_span`, `record`, `enter`, `exit`, `event`, `clone_span`,
//! `try_close`). It costs only the trace: every future must still end as injected, and no pool
//! thread may die. Without the feature there are no spans, and nothing is installed.

#[cfg(feature = "tracing")]
mod hostile {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    use crate::jobs::MARKER;
    use crate::ledger::{bump, STATS};

    /// Panics in about one call in `ONE_IN`.
    const ONE_IN: u64 = 97;

    pub struct Hostile {
        next_id: AtomicU64,
        calls: AtomicU64,
    }

    impl Hostile {
        /// Panics now and then (a multiplicative hash of a call counter: the same calls fail
        /// in the same order, whichever thread makes them).
        fn maybe_panic(&self, callback: &str) {
            let c = self.calls.fetch_add(1, Relaxed);
            if c.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32 < (1u64 << 32) / ONE_IN {
                bump(&STATS.f_subscriber);
                panic!("{MARKER}: hostile subscriber in {callback}");
            }
        }
    }

    impl Subscriber for Hostile {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            self.maybe_panic("new_span");
            Id::from_u64(self.next_id.fetch_add(1, Relaxed))
        }
        fn record(&self, _: &Id, _: &Record<'_>) {
            self.maybe_panic("record");
        }
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, _: &Event<'_>) {
            self.maybe_panic("event");
        }
        fn enter(&self, _: &Id) {
            self.maybe_panic("enter");
        }
        fn exit(&self, _: &Id) {
            self.maybe_panic("exit");
        }
        fn clone_span(&self, id: &Id) -> Id {
            self.maybe_panic("clone_span");
            id.clone()
        }
        fn try_close(&self, _: Id) -> bool {
            self.maybe_panic("try_close");
            false
        }
    }

    pub fn install() {
        let s = Hostile {
            next_id: AtomicU64::new(1),
            calls: AtomicU64::new(0),
        };
        let _ = tracing::subscriber::set_global_default(s);
    }
}

/// Installs the hostile subscriber (with the `tracing` feature; otherwise nothing).
pub fn install() {
    #[cfg(feature = "tracing")]
    hostile::install();
}
