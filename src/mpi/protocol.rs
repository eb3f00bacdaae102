//! The messages between a manager and its worker ranks. Each MPI message is one frame in the
//! process engine's format ([`wire`](crate::remote::wire)): the same header, and the same
//! `CALL` body inside `TASK`, so a worker rank relays it to a local worker process with only
//! its task id rewritten.
//!
//! ```text
//!  manager → rank   TASK (4):   body = time limit in ms, u64 LE (0: none) | a CALL frame
//!                   END (5):    no body; the rank finishes and answers FIN
//!  rank → manager   READY (20): body = encoded Ready (local workers, host, pid); the first message
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

/// Decodes one whole message.
pub(crate) fn decode(bytes: &[u8]) -> Option<Frame> {
    match wire::decode(bytes, usize::MAX >> 1) {
        Ok((f, used)) if used == bytes.len() => Some(f),
        _ => None,
    }
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
