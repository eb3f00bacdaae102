//! The messages between a manager and its worker ranks. Each MPI message holds one or more
//! frames back to back in the process engine's format ([`wire`](crate::remote::wire)): the same
//! header (which carries each frame's length), and the same `CALL` body inside `TASK`, so a
//! worker rank relays it to a local worker process with only its task id rewritten. Frames
//! queued for the same rank while the MPI thread was busy travel as one message (see
//! [`comm`](super::comm)), so a burst of small tasks or replies costs one send, not one each.
//!
//! ```text
//!  manager → rank   TASK (4):   body = time limit in ms, u64 LE (0: none) | a CALL frame
//!                   END (5):    no body; the rank finishes and answers FIN
//!  rank → manager   READY (20): body = encoded Ready (local workers, host, pid, program and
//!                               its registry); the first message
//!                   OK (16), ERR (17): the task's reply, under the manager's task id
//!                   FIN (21):   no body; the last message
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::remote::wire::{self, Frame};

pub(crate) const TASK: u8 = 4;
pub(crate) const END: u8 = 5;
pub(crate) const READY: u8 = 20;
pub(crate) const FIN: u8 = 21;

/// What a worker rank tells its manager when it is ready.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Ready {
    /// How many tasks it runs at once (its local worker processes).
    pub(crate) workers: u32,
    pub(crate) host: String,
    pub(crate) pid: u32,
    /// The program it runs (its path), and its registry's size and hash: a task names its
    /// function by name, so every rank must run the same program.
    pub(crate) program: String,
    pub(crate) functions: u32,
    pub(crate) registry: u64,
}

impl Ready {
    /// This process, with `workers` local workers.
    pub(crate) fn this(workers: u32) -> Ready {
        let (functions, registry) = crate::remote::registry::fingerprint();
        Ready {
            workers,
            host: hostname(),
            pid: std::process::id(),
            program: program(),
            functions,
            registry,
        }
    }

    /// Why rank `rank` cannot serve this process (another program), if it cannot.
    pub(crate) fn mismatch(&self, rank: i32) -> Option<String> {
        let me = Ready::this(0);
        (self.registry != me.registry || self.functions != me.functions).then(|| {
            format!(
                "worker rank {rank} on {} runs {} ({} registered functions), but this rank runs \
                 {} ({}): tasks name their functions, so every rank must run the same program; \
                 start the job with one binary",
                self.host, self.program, self.functions, me.program, me.functions
            )
        })
    }
}

fn program() -> String {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "an unknown program".into())
}

/// A frame of `kind` for task `id` with `body`.
pub(crate) fn frame(kind: u8, id: u64, body: &[u8]) -> Vec<u8> {
    let mut f = wire::begin(kind, id, None);
    f.extend_from_slice(body);
    wire::finish(&mut f, usize::MAX >> 1).expect("no limit");
    f
}

/// A `TASK` message: the time limit, then the `CALL` frame.
pub(crate) fn task(id: u64, timeout: Option<Duration>, call: &[u8]) -> Vec<u8> {
    let ms = timeout.map_or(0, |t| (t.as_millis() as u64).max(1));
    let mut body = Vec::with_capacity(8 + call.len());
    body.extend_from_slice(&ms.to_le_bytes());
    body.extend_from_slice(call);
    frame(TASK, id, &body)
}

/// Splits a `TASK` body into its time limit and `CALL` frame.
pub(crate) fn parse_task(body: &[u8]) -> Option<(Option<Duration>, &[u8])> {
    let ms = u64::from_le_bytes(body.get(..8)?.try_into().ok()?);
    Some(((ms > 0).then(|| Duration::from_millis(ms)), &body[8..]))
}

/// Decodes one whole message into its frames, in order; `None` if any part is malformed (the
/// frames before it are still returned first, so nothing that arrived whole is lost).
pub(crate) fn frames(bytes: &[u8]) -> impl Iterator<Item = Option<Frame>> + '_ {
    let mut rest = bytes;
    let mut failed = false;
    std::iter::from_fn(move || {
        if rest.is_empty() || failed {
            return None;
        }
        match wire::decode(rest, usize::MAX >> 1) {
            Ok((f, used)) => {
                rest = &rest[used..];
                Some(Some(f))
            }
            Err(_) => {
                failed = true;
                Some(None)
            }
        }
    })
}

/// This machine's name.
pub(crate) fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mpi::comm::{Merge, COALESCE};
    use std::sync::Arc;

    #[test]
    fn merged_sends_split_back_into_their_frames_in_order() {
        let mut m = Merge::default();
        let mut sent = Vec::new();
        for id in 0..5u64 {
            let f = frame(TASK, id, &id.to_le_bytes());
            if let Some(msg) = m.add(1, 2, Arc::new(f)) {
                sent.push(msg);
            }
        }
        sent.extend(m.take());
        assert_eq!(
            sent.len(),
            1,
            "five small sends to one rank go as one message"
        );
        let (ep, rank, bytes) = &sent[0];
        assert_eq!((*ep, *rank), (1, 2));
        let ids: Vec<u64> = frames(bytes).map(|f| f.expect("well formed").id).collect();
        assert_eq!(ids, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn sends_to_other_ranks_or_past_the_cap_are_not_merged() {
        let mut m = Merge::default();
        let small = Arc::new(frame(END, 0, &[]));
        assert!(m.add(1, 1, small.clone()).is_none());
        let other = m.add(1, 2, small.clone()).expect("another rank flushes");
        assert_eq!(other.1, 1);
        let big = Arc::new(frame(TASK, 7, &vec![0; COALESCE]));
        let flushed = m.add(1, 2, big.clone()).expect("too large together");
        assert_eq!(flushed.1, 2);
        let (_, _, alone) = m.take().expect("the large one");
        assert!(Arc::ptr_eq(&alone, &big), "a single part is sent uncopied");
        assert!(m.take().is_none());
    }

    #[test]
    fn a_rank_running_another_program_is_refused_with_both_names() {
        let me = Ready::this(4);
        assert!(me.mismatch(1).is_none(), "the same program");
        let other = Ready {
            program: "/opt/other".into(),
            registry: me.registry ^ 1,
            host: "node7".into(),
            ..Ready::this(2)
        };
        let why = other.mismatch(3).expect("another registry is refused");
        assert!(
            why.contains("worker rank 3 on node7 runs /opt/other"),
            "{why}"
        );
        assert!(
            why.contains(&me.program) && why.contains("one binary"),
            "{why}"
        );
        let fewer = Ready {
            functions: me.functions + 1,
            ..Ready::this(1)
        };
        assert!(fewer.mismatch(1).is_some(), "another number of functions");
    }

    #[test]
    fn a_malformed_tail_yields_the_frames_before_it_then_stops() {
        let mut bytes = frame(FIN, 3, &[]);
        bytes.extend_from_slice(&[200, 0, 0, 0, 1]);
        let got: Vec<Option<u64>> = frames(&bytes).map(|f| f.map(|f| f.id)).collect();
        assert_eq!(got, [Some(3), None]);
        assert_eq!(frames(&[]).count(), 0);
    }
}
