#![doc = include_str!("wire.md")]

use std::io::{self, Read};

/// Bytes before a frame's body: length, kind, task id.
pub const HEADER: usize = 13;
/// Parent → worker: run a task.
pub const CALL: u8 = 1;
/// Parent → worker: run the initializer.
pub const INIT: u8 = 2;
/// Worker → parent: the encoded result.
pub const OK: u8 = 16;
/// Worker → parent: an encoded `RemoteError`.
pub const ERR: u8 = 17;
/// Worker → parent, first frame: the marker's token.
pub const HELLO: u8 = 18;
/// Worker → parent, before a task's reply (the `tracing` feature): the events the task emitted.
pub const EVENTS: u8 = 19;
/// Call flag: the payload is a `Vec` of arguments.
pub const FLAG_BATCH: u8 = 1;

/// The default frame limit: 1 GiB.
pub const DEFAULT_FRAME_LIMIT: usize = 1 << 30;

/// A frame as read from a stream: kind, task id and body.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    /// The frame kind (`CALL`, `INIT`, `OK`, `ERR`).
    pub kind: u8,
    /// The task id the frame belongs to.
    pub id: u64,
    /// The rest of the frame.
    pub body: Vec<u8>,
}

/// A parsed `CALL`/`INIT` body.
#[derive(Debug, PartialEq, Eq)]
pub struct Call<'a> {
    /// The registered function's name.
    pub name: &'a str,
    /// Flags (`FLAG_BATCH`).
    pub flags: u8,
    /// The encoded argument(s).
    pub payload: &'a [u8],
}

/// Why a frame was rejected.
#[derive(Debug, PartialEq, Eq)]
pub enum WireError {
    /// The length field is below the header size.
    TooShort(usize),
    /// The length field is above the frame limit.
    TooLarge(usize, usize),
    /// The stream ended inside a frame.
    Truncated,
    /// The kind byte is not one this side accepts.
    BadKind(u8),
    /// The body's inner lengths do not fit, or the name is not UTF-8.
    BadBody(&'static str),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::TooShort(n) => write!(f, "frame length {n} is shorter than a header"),
            WireError::TooLarge(n, max) => {
                write!(
                    f,
                    "frame of {n} bytes exceeds the frame limit of {max} bytes"
                )
            }
            WireError::Truncated => f.write_str("stream ended inside a frame"),
            WireError::BadKind(k) => write!(f, "unknown frame kind {k}"),
            WireError::BadBody(why) => write!(f, "malformed frame body: {why}"),
        }
    }
}

impl std::error::Error for WireError {}

impl From<WireError> for io::Error {
    fn from(e: WireError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

/// Starts a frame: header (length filled in by [`finish`]) and, for calls, the name and flags.
/// The caller appends the payload.
pub fn begin(kind: u8, id: u64, call: Option<(&str, u8)>) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64);
    buf.extend_from_slice(&[0; 4]);
    buf.push(kind);
    buf.extend_from_slice(&id.to_le_bytes());
    if let Some((name, flags)) = call {
        let n = u16::try_from(name.len()).expect("function names are short");
        buf.extend_from_slice(&n.to_le_bytes());
        buf.extend_from_slice(name.as_bytes());
        buf.push(flags);
    }
    buf
}

/// Fills in the length field; fails if the frame exceeds `limit`.
pub fn finish(buf: &mut [u8], limit: usize) -> Result<(), WireError> {
    let len = buf.len() - 4;
    if len > limit || len > u32::MAX as usize {
        return Err(WireError::TooLarge(len, limit.min(u32::MAX as usize)));
    }
    buf[..4].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(())
}

/// Checks a frame's length field.
fn check_len(len: usize, limit: usize) -> Result<(), WireError> {
    if len < HEADER - 4 {
        return Err(WireError::TooShort(len));
    }
    if len > limit {
        return Err(WireError::TooLarge(len, limit));
    }
    Ok(())
}

/// Reads one frame. `Ok(None)` on a clean end of stream between frames.
pub(crate) fn read_frame(r: &mut impl Read, limit: usize) -> io::Result<Option<Frame>> {
    let mut len = [0u8; 4];
    match read_exact_or_eof(r, &mut len)? {
        0 => return Ok(None),
        4 => {}
        _ => return Err(WireError::Truncated.into()),
    }
    let len = u32::from_le_bytes(len) as usize;
    check_len(len, limit)?;
    let mut head = [0u8; HEADER - 4];
    if read_exact_or_eof(r, &mut head)? != head.len() {
        return Err(WireError::Truncated.into());
    }
    let kind = head[0];
    let id = u64::from_le_bytes(head[1..9].try_into().expect("8 bytes"));
    let mut body = Vec::new();
    let want = len - (HEADER - 4);
    // Grow as bytes arrive instead of trusting the length field for one large allocation.
    let got = r.take(want as u64).read_to_end(&mut body)?;
    if got != want {
        return Err(WireError::Truncated.into());
    }
    Ok(Some(Frame { kind, id, body }))
}

fn read_exact_or_eof(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Decodes one frame from the front of `bytes` (the same rules as the stream reader); returns the
/// frame and the number of bytes it used.
pub fn decode(bytes: &[u8], limit: usize) -> Result<(Frame, usize), WireError> {
    if bytes.len() < 4 {
        return Err(WireError::Truncated);
    }
    let len = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes")) as usize;
    check_len(len, limit)?;
    let total = 4 + len;
    if bytes.len() < total {
        return Err(WireError::Truncated);
    }
    let kind = bytes[4];
    let id = u64::from_le_bytes(bytes[5..13].try_into().expect("8 bytes"));
    Ok((
        Frame {
            kind,
            id,
            body: bytes[HEADER..total].to_vec(),
        },
        total,
    ))
}

/// Frames arriving in pieces (the parent reads its workers' sockets without blocking, so that a
/// worker that died can be noticed while a descendant still holds the socket open): bytes go in
/// as they arrive, whole frames come out. The same checks as [`decode`]; a length field is
/// checked against the limit before any room is reserved for the frame.
///
/// ```
/// use concurrent_futures::__private::wire::{self, FrameBuf, OK};
/// let mut frame = wire::begin(OK, 9, None);
/// frame.extend_from_slice(b"result");
/// wire::finish(&mut frame, 1024).unwrap();
/// let mut buf = FrameBuf::new(1024);
/// buf.extend(&frame[..5]);
/// assert_eq!(buf.next_frame(), Ok(None)); // not all there yet
/// buf.extend(&frame[5..]);
/// let f = buf.next_frame().unwrap().unwrap();
/// assert_eq!((f.kind, f.id, &f.body[..]), (OK, 9, &b"result"[..]));
/// assert!(buf.is_empty());
/// ```
#[derive(Debug)]
pub struct FrameBuf {
    buf: Vec<u8>,
    start: usize,
    limit: usize,
}

impl FrameBuf {
    /// An empty buffer for frames of at most `limit` bytes.
    pub fn new(limit: usize) -> FrameBuf {
        FrameBuf {
            buf: Vec::new(),
            start: 0,
            limit,
        }
    }

    /// Appends bytes received.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Appends bytes through `f`, which writes them at the end of the buffer.
    pub(crate) fn append_with<R>(&mut self, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        f(&mut self.buf)
    }

    /// No bytes of an unfinished frame are buffered.
    pub fn is_empty(&self) -> bool {
        self.start == self.buf.len()
    }

    /// The next whole frame, if one is buffered; `Err` if the buffered bytes cannot start a
    /// valid frame.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, WireError> {
        let avail = &self.buf[self.start..];
        if avail.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_le_bytes(avail[..4].try_into().expect("4 bytes")) as usize;
        check_len(len, self.limit)?;
        let total = 4 + len;
        if avail.len() < total {
            // Room for the rest of this frame (its length is within the limit), a chunk at a
            // time, so a large frame is not copied once per chunk received.
            let missing = total - avail.len();
            self.buf.reserve(missing.min(1 << 24));
            return Ok(None);
        }
        let (frame, used) = decode(avail, self.limit)?;
        debug_assert_eq!(used, total);
        self.start += used;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > (1 << 16) && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        Ok(Some(frame))
    }
}

/// Parses the body of a `CALL`/`INIT` frame.
pub fn parse_call(body: &[u8]) -> Result<Call<'_>, WireError> {
    if body.len() < 2 {
        return Err(WireError::BadBody("missing name length"));
    }
    let n = u16::from_le_bytes([body[0], body[1]]) as usize;
    let rest = &body[2..];
    if rest.len() < n + 1 {
        return Err(WireError::BadBody("name runs past the end of the frame"));
    }
    let name =
        std::str::from_utf8(&rest[..n]).map_err(|_| WireError::BadBody("name is not UTF-8"))?;
    Ok(Call {
        name,
        flags: rest[n],
        payload: &rest[n + 1..],
    })
}

/// Runs every decoding path over `bytes` and checks they agree (the fuzz target and the corpus
/// replay test call this): the buffer decoder, the stream reader, and the call-body parser.
/// Panics only if the paths disagree.
pub fn check_decoder(bytes: &[u8], limit: usize) {
    let from_buf = decode(bytes, limit);
    let from_stream = read_frame(&mut &bytes[..], limit);
    match (&from_buf, &from_stream) {
        (Ok((f, _)), Ok(Some(g))) => assert_eq!(f, g, "decoders disagree"),
        (Ok(_), _) => panic!("buffer decoder accepted what the stream reader rejected"),
        (Err(_), Ok(Some(_))) => panic!("stream reader accepted what the buffer decoder rejected"),
        _ => {}
    }
    // Fed in two pieces, the incremental parser agrees with both.
    let mut fb = FrameBuf::new(limit);
    let cut = bytes.len() / 2;
    fb.extend(&bytes[..cut]);
    let early = fb.next_frame();
    fb.extend(&bytes[cut..]);
    let incremental = match early {
        Ok(Some(f)) => Ok(Some(f)),
        Ok(None) => fb.next_frame(),
        Err(e) => Err(e),
    };
    match (&from_buf, &incremental) {
        (Ok((f, _)), Ok(Some(g))) => assert_eq!(f, g, "incremental parser disagrees"),
        (Ok(_), _) => panic!("buffer decoder accepted what the incremental parser rejected"),
        (Err(_), Ok(Some(_))) => panic!("incremental parser accepted what decode rejected"),
        _ => {}
    }
    if let Ok((f, used)) = from_buf {
        assert!(used <= bytes.len() && f.body.len() + HEADER == used);
        if let Ok(call) = parse_call(&f.body) {
            assert!(call.name.len() + call.payload.len() + 3 == f.body.len());
        }
    }
    let _ = parse_call(bytes);
}

/// The registered name in a `CALL` frame, or `?` (for a task's span, on both engines).
#[cfg(feature = "tracing")]
pub(crate) fn call_name(frame: &[u8]) -> &str {
    frame
        .get(HEADER..)
        .and_then(|b| parse_call(b).ok())
        .map_or("?", |c| c.name)
}

/// How long a reader spins on its ring (`process/ring.rs`) before blocking on its socket: a reply
/// or a next task that arrives within this window is picked up without the sleep/wake-up pair of
/// a blocking wait, which on an otherwise idle machine costs tens of microseconds (CPU
/// idle-state exit).
pub(crate) const READ_SPIN: std::time::Duration = std::time::Duration::from_micros(50);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut f = begin(CALL, 7, Some(("m::f", FLAG_BATCH)));
        f.extend_from_slice(b"payload");
        finish(&mut f, 1 << 20).unwrap();
        let (frame, used) = decode(&f, 1 << 20).unwrap();
        assert_eq!(used, f.len());
        assert_eq!((frame.kind, frame.id), (CALL, 7));
        let call = parse_call(&frame.body).unwrap();
        assert_eq!(call.name, "m::f");
        assert_eq!(call.flags, FLAG_BATCH);
        assert_eq!(call.payload, b"payload");
        let read = read_frame(&mut &f[..], 1 << 20).unwrap().unwrap();
        assert_eq!(read, frame);
    }

    #[test]
    fn rejects_bad_frames() {
        assert_eq!(decode(&[1, 0], 100).unwrap_err(), WireError::Truncated);
        assert_eq!(
            decode(&[3, 0, 0, 0, 1], 100).unwrap_err(),
            WireError::TooShort(3)
        );
        assert_eq!(
            decode(&[200, 0, 0, 0], 100).unwrap_err(),
            WireError::TooLarge(200, 100)
        );
        let mut f = begin(CALL, 1, Some(("x", 0)));
        finish(&mut f, 100).unwrap();
        assert_eq!(
            decode(&f[..f.len() - 1], 100).unwrap_err(),
            WireError::Truncated
        );
        assert!(read_frame(&mut &f[..f.len() - 1], 100).is_err());
        assert!(read_frame(&mut &[][..], 100).unwrap().is_none());
        assert!(parse_call(&[5, 0, b'a']).is_err());
        assert!(parse_call(&[1, 0, 0xff, 0]).is_err());
        let mut big = begin(OK, 1, None);
        big.extend_from_slice(&[0; 200]);
        assert!(finish(&mut big, 100).is_err());
    }
}
