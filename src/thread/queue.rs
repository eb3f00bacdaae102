//! The pool's shared FIFO of jobs: crossbeam's lock-free `Injector` (a segmented array queue);
//! under `--cfg loom`, a mutex-protected `VecDeque` that loom can model.

use super::task::JobRef;

pub(crate) struct Queue {
    #[cfg(not(loom))]
    inner: crossbeam_deque::Injector<JobRef>,
    #[cfg(loom)]
    inner: crate::sync::Mutex<std::collections::VecDeque<JobRef>>,
}

impl Queue {
    pub(crate) fn new() -> Self {
        Queue {
            inner: Default::default(),
        }
    }

    #[inline]
    pub(crate) fn push(&self, job: JobRef) {
        #[cfg(not(loom))]
        self.inner.push(job);
        #[cfg(loom)]
        crate::sync::lock(&self.inner).push_back(job);
    }

    #[inline]
    pub(crate) fn pop(&self) -> Option<JobRef> {
        #[cfg(not(loom))]
        loop {
            match self.inner.steal() {
                crossbeam_deque::Steal::Success(j) => return Some(j),
                crossbeam_deque::Steal::Empty => return None,
                crossbeam_deque::Steal::Retry => std::hint::spin_loop(),
            }
        }
        #[cfg(loom)]
        crate::sync::lock(&self.inner).pop_front()
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        #[cfg(not(loom))]
        return self.inner.is_empty();
        #[cfg(loom)]
        crate::sync::lock(&self.inner).is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        #[cfg(not(loom))]
        return self.inner.len();
        #[cfg(loom)]
        crate::sync::lock(&self.inner).len()
    }
}
