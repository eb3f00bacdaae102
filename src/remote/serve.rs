//! The worker loop's heart, shared by every engine whose workers run registered functions: one
//! `CALL`/`INIT` frame in, one `OK`/`ERR` frame out. The function is found by name in the
//! registry and run with every piece of user code contained (`registry.rs`, `unwind.rs`); the
//! reply always fits in the frame limit.

use super::codec;
use super::registry::{lookup_name, RemoteError};
use super::wire::{self, Frame, CALL, ERR, FLAG_BATCH, INIT, OK};

/// Runs the task a frame names and returns the reply frame.
pub(crate) fn run_frame(frame: Frame, limit: usize) -> Vec<u8> {
    let id = frame.id;
    let reply = match frame.kind {
        CALL | INIT => match wire::parse_call(&frame.body) {
            Ok(call) => match lookup_name(call.name) {
                None => Err(RemoteError::UnknownFunction(call.name.to_owned())),
                Some(reg) if call.flags & FLAG_BATCH != 0 => reg.entry.invoke_batch(call.payload),
                Some(reg) => reg.entry.invoke(call.payload),
            },
            Err(e) => Err(RemoteError::BadArgument(e.to_string())),
        },
        other => Err(RemoteError::BadArgument(format!(
            "unexpected frame kind {other}"
        ))),
    };
    drop(frame);
    reply_frame(id, reply, limit)
}

/// The reply to task `id`: `OK` with the result, or `ERR`. Always fits in `limit`: a result that
/// does not becomes an error saying so, and an error's messages are cut to fit (a long panic
/// message must not cost the worker its life).
pub(crate) fn reply_frame(id: u64, reply: Result<Vec<u8>, RemoteError>, limit: usize) -> Vec<u8> {
    let room = limit.saturating_sub(wire::HEADER - 4);
    let err = match reply {
        Ok(body) if body.len() <= room => {
            let mut f = wire::begin(OK, id, None);
            f.extend_from_slice(&body);
            if wire::finish(&mut f, limit).is_ok() {
                return f;
            }
            RemoteError::BadResult(format!(
                "the result does not fit in a frame of {limit} bytes"
            ))
        }
        Ok(body) => RemoteError::BadResult(format!(
            "the result is {} bytes, over the frame limit of {limit} bytes",
            body.len()
        )),
        Err(e) => e,
    };
    let mut err = err;
    let mut body = codec::encode(&err).unwrap_or_default();
    if body.len() > room {
        err.truncate_to(room);
        body = codec::encode(&err).unwrap_or_default();
    }
    if body.len() > room {
        body = codec::encode(&RemoteError::BadResult(
            "the error does not fit in a frame".into(),
        ))
        .unwrap_or_default();
    }
    let mut f = wire::begin(ERR, id, None);
    f.extend_from_slice(&body);
    if wire::finish(&mut f, limit).is_err() {
        // Not reachable with the 64-byte minimum limit; an empty ERR body still decodes as an
        // error in the parent ("unreadable error").
        f.truncate(wire::HEADER);
        let _ = wire::finish(&mut f, limit);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_reply_always_fits_the_limit() {
        for limit in [64usize, 100, 1000, 1 << 16] {
            let long = "x".repeat(10 * limit);
            let e = RemoteError::Panicked {
                message: long.clone(),
                location: Some("src/a.rs:1:1".into()),
                backtrace: Some(long.clone()),
            };
            let f = reply_frame(3, Err(e), limit);
            let (frame, used) = wire::decode(&f, limit).expect("a valid frame");
            assert_eq!((frame.kind, frame.id, used), (ERR, 3, f.len()));
            let back: RemoteError = codec::decode(&frame.body).unwrap();
            match back {
                RemoteError::Panicked { message, .. } => {
                    assert!(message.len() < limit);
                    if limit >= 1000 {
                        assert!(message.starts_with("xxx") && message.contains("bytes cut]"));
                    }
                }
                other => panic!("{other:?}"),
            }
            let f = reply_frame(4, Ok(vec![0; 2 * limit]), limit);
            let (frame, _) = wire::decode(&f, limit).unwrap();
            assert_eq!(frame.kind, ERR);
        }
    }
}
