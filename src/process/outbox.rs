//! The parent's writing end of one worker's task ring: the frames assigned to the worker, in
//! order, written as the ring makes room for them — never waiting for it.
//!
//! # Nobody waits for room
//!
//! A frame is written by whichever thread assigned it (a submitter, a thread handling a reply)
//! as far as the ring has room, and the rest stays here. The writer then asks the worker to
//! ring when it makes room (`Producer::ask_for_room`, the mirror of the reader's `sleeping`
//! word: a `SeqCst` store and fence on each side, so either the writer sees the room or the
//! worker sees the request); the worker's doorbell wakes its reader thread, which writes on
//! (`reader.rs`). So no thread is ever parked in a write: a submitter returns at once whatever
//! the worker's ring holds, a reply is completed before anything more is written, and the
//! reader thread, the one that sees the worker end, is always free to see it. A worker that
//! never makes room holds back only its own tasks, and only as long as it lives.
//!
//! # What the worker's `head` proves
//!
//! The worker owns the ring's `head`, so it can write any number there. `Producer::head`
//! refuses one past `tail` or below one it showed before; and each reply proves the worker read
//! the whole frame it answers (it could not know the task otherwise), so the frame's end
//! becomes the lowest `head` it may show (`answered`). A `head` that makes the ring look full
//! forever after every task was answered is therefore a protocol error, caught at the next
//! reply or write, and the worker is killed.
//!
//! The same record says whether a worker that ended had *taken* its oldest unanswered task —
//! read it whole from the ring — or not ([`Outbox::took_oldest`]): a task it never took did
//! not start.

use std::collections::VecDeque;
use std::sync::Arc;

use super::ring::{Corrupt, Producer};

/// The frames for one worker not yet wholly in its ring, and the ends of those that are.
pub(crate) struct Outbox {
    ring: Producer,
    /// Not yet wholly written, oldest first (the first may be partly written).
    frames: VecDeque<Arc<Vec<u8>>>,
    /// Bytes of the first frame already in the ring.
    written: usize,
    /// Where each frame wholly in the ring and not yet answered ends (stream offsets).
    unanswered: VecDeque<u64>,
    /// The worker is gone or being killed: nothing more is written.
    closed: bool,
}

/// How a flush left the outbox.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Flushed {
    /// Every frame is in the ring (else the ring is full: the worker rings when it makes room,
    /// and the reader writes on).
    pub(crate) all: bool,
    /// The worker sleeps on an empty ring and must be rung for what was written.
    pub(crate) ring: bool,
}

impl Outbox {
    pub(crate) fn new(ring: Producer) -> Outbox {
        Outbox {
            ring,
            frames: VecDeque::new(),
            written: 0,
            unanswered: VecDeque::new(),
            closed: false,
        }
    }

    /// Queues a frame behind the others.
    pub(crate) fn push(&mut self, frame: Arc<Vec<u8>>) {
        if !self.closed {
            self.frames.push_back(frame);
        }
    }

    /// Writes as much as the ring has room for, oldest frame first; says whether all of it
    /// went in, and whether the worker must be rung. `Err`: the worker's `head` is a lie.
    pub(crate) fn flush(&mut self) -> Result<Flushed, Corrupt> {
        let mut wrote = false;
        let all = loop {
            let Some(frame) = self.frames.front() else {
                break true;
            };
            let n = self.ring.write_some(&frame[self.written..])?;
            wrote |= n > 0;
            self.written += n;
            if self.written == frame.len() {
                self.frames.pop_front();
                self.written = 0;
                self.unanswered.push_back(self.ring.tail());
            } else if !self.ring.ask_for_room()? {
                break false;
            }
        };
        let ring = wrote && self.ring.take_sleeper();
        Ok(Flushed { all, ring })
    }

    /// A reply came: the worker read the oldest unanswered frame whole. `Err`: it answered a
    /// frame it was never sent whole, or its `head` is a lie.
    pub(crate) fn answered(&mut self) -> Result<(), String> {
        let end = self
            .unanswered
            .pop_front()
            .ok_or("it answered a task it was not sent")?;
        self.ring.raise_floor(end).map_err(|c| c.to_string())
    }

    /// Whether the worker had taken its oldest unanswered frame from the ring (its `head` is
    /// past the frame's end). A frame not yet wholly written was not taken.
    pub(crate) fn took_oldest(&mut self) -> bool {
        match self.unanswered.front() {
            None => false,
            // A lying head counts as taken: the task fails with its worker.
            Some(&end) => self.ring.head().map_or(true, |h| h >= end),
        }
    }

    /// Drops what is not yet written, and writes nothing more (the worker is gone or being
    /// killed; a frame cut short is never read).
    pub(crate) fn close(&mut self) {
        self.closed = true;
        self.frames.clear();
        self.written = 0;
    }
}

/// Runs the parent's writing side of a task ring against a hostile worker scripted by `script`
/// (the `task_ring` fuzz target calls this): each step queues and writes a
/// frame, reads some of the ring as a worker would, answers the oldest frame, or stores an
/// arbitrary `head`. Whatever the script does, the parent's side writes only into room the
/// ring has, never panics, and refuses a `head` past `tail` or below what the worker showed or
/// proved.
#[doc(hidden)]
pub fn check_producer(script: &[u8]) {
    use super::ring::{Consumer, Mapping, CAPACITY, TO_WORKER};
    let map = Arc::new(Mapping::anonymous());
    let mut out = Outbox::new(Producer::new(map.clone(), TO_WORKER));
    let mut worker = Consumer::new(map.clone(), TO_WORKER);
    let mut sink = Vec::new();
    let mut rest = script;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        let arg = rest.first().copied().unwrap_or(0) as usize;
        let ok = match op % 4 {
            0 => {
                out.push(Arc::new(vec![op; 1 + arg * 2048]));
                out.flush().is_ok()
            }
            1 => {
                sink.clear();
                worker.read_into(&mut sink, arg * 1024).is_ok()
            }
            2 => out.answered().is_ok() || out.unanswered.is_empty(),
            _ => {
                let mut h = [0u8; 8];
                let n = rest.len().min(8);
                h[..n].copy_from_slice(&rest[..n]);
                rest = &rest[n..];
                map.set_head(TO_WORKER, u64::from_le_bytes(h));
                // The worker's own count follows what it scribbled only if it reads again.
                out.flush().is_ok()
            }
        };
        if !ok {
            return; // the parent kills such a worker
        }
        rest = rest.get(1..).unwrap_or_default();
        // Never more in the ring than room the worker showed.
        assert!(out.ring.tail() - out.ring.floor() <= CAPACITY as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::super::ring::{Consumer, Mapping, CAPACITY, TO_WORKER};
    use super::*;

    fn pair() -> (Outbox, Consumer, Arc<Mapping>) {
        let m = Arc::new(Mapping::heap());
        let out = Outbox::new(Producer::new(m.clone(), TO_WORKER));
        (out, Consumer::new(m.clone(), TO_WORKER), m)
    }

    /// Frames larger than the ring pass in pieces: a flush never waits, it leaves the rest and
    /// asks for a doorbell, which the worker gives when it reads.
    #[test]
    fn a_frame_larger_than_the_ring_waits_in_the_outbox() {
        let (mut out, mut worker, _m) = pair();
        out.push(Arc::new(vec![1; CAPACITY + 100]));
        out.push(Arc::new(vec![2; 10]));
        assert!(!out.flush().unwrap().all);
        let mut got = Vec::new();
        worker.read_into(&mut got, 1000).unwrap();
        assert!(worker.take_room_request(), "the writer asked for room");
        assert!(!worker.take_room_request(), "once");
        assert!(out.flush().unwrap().all);
        worker.read_into(&mut got, usize::MAX).unwrap();
        assert_eq!(got.len(), CAPACITY + 110);
        assert!(got[..CAPACITY + 100].iter().all(|&b| b == 1));
        assert!(got[CAPACITY + 100..].iter().all(|&b| b == 2));
        out.answered().unwrap();
        out.answered().unwrap();
        assert!(out.answered().is_err(), "a third reply answers nothing");
    }

    /// The worker's `head` is checked against what its replies proved: after it answered every
    /// frame, a `head` that makes the ring look full is a lie, as is one past `tail`.
    #[test]
    fn a_lying_head_is_refused() {
        let (mut out, mut worker, m) = pair();
        for _ in 0..3 {
            out.push(Arc::new(vec![5; CAPACITY / 2]));
            out.flush().unwrap();
            worker.read_into(&mut Vec::new(), usize::MAX).unwrap();
            out.answered().unwrap();
        }
        let tail = out.ring.tail();
        m.set_head(TO_WORKER, tail - CAPACITY as u64);
        out.push(Arc::new(vec![6; 10]));
        assert!(out.flush().is_err(), "the ring held full");
        let (mut out, _worker, m) = pair();
        out.push(Arc::new(vec![6; 10]));
        out.flush().unwrap();
        m.set_head(TO_WORKER, 11);
        assert!(out.answered().is_err(), "a head past the tail");
    }

    #[test]
    fn a_frame_is_taken_once_the_worker_read_it_whole() {
        let (mut out, mut worker, _m) = pair();
        assert!(!out.took_oldest(), "nothing sent");
        out.push(Arc::new(vec![1; 100]));
        out.flush().unwrap();
        assert!(!out.took_oldest());
        worker.read_into(&mut Vec::new(), 99).unwrap();
        assert!(!out.took_oldest(), "a byte short");
        worker.read_into(&mut Vec::new(), 1).unwrap();
        assert!(out.took_oldest());
    }

    #[test]
    fn a_scripted_hostile_worker_never_breaks_the_writer() {
        let scripts: Vec<Vec<u8>> = vec![
            vec![],
            vec![0, 200, 0, 200, 1, 3, 2, 0, 0, 1],
            vec![0, 9, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0],
            vec![0, 100, 1, 255, 2, 0, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0],
            (0..=255u8).cycle().take(5000).collect(),
        ];
        for s in scripts {
            check_producer(&s);
        }
    }
}
