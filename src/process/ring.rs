#![doc = include_str!("ring.md")]

use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::sys::{self, Channel, SharedMemory};

/// Data bytes per ring.
pub(crate) const CAPACITY: usize = 256 << 10;
const HEADER: usize = 192;
const RING: usize = HEADER + CAPACITY;
/// Bytes of the mapping: two rings.
pub(crate) const MAP_LEN: usize = 2 * RING;
/// The ring the parent writes (tasks).
pub(crate) const TO_WORKER: usize = 0;
/// The ring the worker writes (replies).
pub(crate) const TO_PARENT: usize = 1;

/// The other side broke the ring's rules (a worker that scribbled on it, as seen by the
/// parent).
#[derive(Debug)]
pub(crate) struct Corrupt(pub(crate) &'static str);

impl std::fmt::Display for Corrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the shared-memory ring is corrupt: {}", self.0)
    }
}

impl From<Corrupt> for io::Error {
    fn from(c: Corrupt) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, c.to_string())
    }
}

enum Backing {
    Mapped,
    #[cfg(test)]
    Heap(std::alloc::Layout),
}

/// The two rings' memory: a shared mapping of a memfd (or, in tests, a heap block).
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    backing: Backing,
}

// SAFETY: the mapping is only accessed through atomics (the indices) and through byte copies
// of ranges the ring protocol gives to one side at a time.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// A fresh, zeroed mapping and its shared-memory object (close-on-exec), to hand to a
    /// worker.
    pub(crate) fn create() -> io::Result<(Mapping, SharedMemory)> {
        let shm = SharedMemory::create(MAP_LEN)?;
        Ok((Mapping::map(&shm)?, shm))
    }

    /// Maps a shared-memory object received from the parent, after checking its size.
    pub(crate) fn open(shm: &SharedMemory) -> io::Result<Mapping> {
        let size = shm.size()?;
        if size != MAP_LEN as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the ring has {size} bytes, not {MAP_LEN}"),
            ));
        }
        Mapping::map(shm)
    }

    fn map(shm: &SharedMemory) -> io::Result<Mapping> {
        Ok(Mapping {
            ptr: shm.map(MAP_LEN)?,
            backing: Backing::Mapped,
        })
    }

    /// A private anonymous mapping of the same layout (for the fuzz targets: no descriptor).
    pub(crate) fn anonymous() -> Mapping {
        Mapping {
            ptr: sys::map_private(MAP_LEN),
            backing: Backing::Mapped,
        }
    }

    /// A zeroed heap block laid out as a mapping (for tests run under Miri).
    #[cfg(test)]
    pub(crate) fn heap() -> Mapping {
        let layout = std::alloc::Layout::from_size_align(MAP_LEN, 64).expect("layout");
        // SAFETY: a non-zero size.
        let p = unsafe { std::alloc::alloc_zeroed(layout) };
        Mapping {
            ptr: NonNull::new(p).expect("allocation"),
            backing: Backing::Heap(layout),
        }
    }

    /// Stores `ring`'s `head` as a scribbling worker would (for tests and the fuzz target).
    pub(crate) fn set_head(&self, ring: usize, head: u64) {
        self.header(ring).head.store(head, Ordering::Release);
    }

    fn header(&self, ring: usize) -> &Header {
        debug_assert!(ring < 2);
        // SAFETY: the header lies inside the mapping, 64-aligned, and is only used through its
        // atomics (the zeroed bytes are valid atomics).
        unsafe { &*(self.ptr.as_ptr().add(ring * RING) as *const Header) }
    }

    fn data(&self, ring: usize) -> *mut u8 {
        // SAFETY: inside the mapping.
        unsafe { self.ptr.as_ptr().add(ring * RING + HEADER) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        match self.backing {
            // SAFETY: our own mapping, not used again.
            Backing::Mapped => unsafe { sys::unmap(self.ptr, MAP_LEN) },
            #[cfg(test)]
            // SAFETY: allocated by `heap` with this layout.
            Backing::Heap(layout) => unsafe { std::alloc::dealloc(self.ptr.as_ptr(), layout) },
        }
    }
}

#[repr(C)]
struct Header {
    tail: AtomicU64,
    _p0: [u8; 56],
    head: AtomicU64,
    _p1: [u8; 56],
    sleeping: AtomicU32,
    room: AtomicU32,
    _p2: [u8; 56],
}

const _: () = assert!(std::mem::size_of::<Header>() == HEADER);

/// The writing end of one ring.
pub(crate) struct Producer {
    map: std::sync::Arc<Mapping>,
    ring: usize,
    /// Bytes written (this side's own count: the shared `tail` is only ever stored).
    tail: u64,
    /// The lowest `head` the reader may still show: the highest it showed, or that its replies
    /// proved it had read (`raise_floor`). A `head` below it moved back.
    floor: u64,
}

impl Producer {
    pub(crate) fn new(map: std::sync::Arc<Mapping>, ring: usize) -> Producer {
        Producer {
            map,
            ring,
            tail: 0,
            floor: 0,
        }
    }

    /// Bytes written so far: where the next byte goes in the stream.
    pub(crate) fn tail(&self) -> u64 {
        self.tail
    }

    /// The lowest `head` the reader may still show (bytes it has surely read).
    pub(crate) fn floor(&self) -> u64 {
        self.floor
    }

    /// The reader's `head`, checked: never past `tail`, never below what it showed or proved
    /// before (so never more than `CAPACITY` behind `tail` either).
    pub(crate) fn head(&mut self) -> Result<u64, Corrupt> {
        let head = self.map.header(self.ring).head.load(Ordering::Acquire);
        if head > self.tail {
            return Err(Corrupt("the reader is ahead of the writer"));
        }
        if head < self.floor || self.tail - head > CAPACITY as u64 {
            return Err(Corrupt("the reader moved back"));
        }
        self.floor = head;
        Ok(head)
    }

    /// The reader has proved that it read up to `at` (it answered the frame that ends there):
    /// from now on a `head` below it is a lie. Checks the `head` it shows now.
    pub(crate) fn raise_floor(&mut self, at: u64) -> Result<(), Corrupt> {
        if at > self.tail {
            return Err(Corrupt("the reader answered what was not written"));
        }
        self.floor = self.floor.max(at);
        self.head().map(drop)
    }

    /// Copies as much of `bytes` as there is room for and publishes it; how many it copied.
    pub(crate) fn write_some(&mut self, bytes: &[u8]) -> Result<usize, Corrupt> {
        let used = self.tail - self.head()?;
        let n = (CAPACITY - used as usize).min(bytes.len());
        if n == 0 {
            return Ok(0);
        }
        let at = (self.tail % CAPACITY as u64) as usize;
        let first = n.min(CAPACITY - at);
        let data = self.map.data(self.ring);
        // SAFETY: `[tail, tail + n)` is free (`n` ≤ the room left), so the reader does not
        // read it until `tail` is published below; both pieces lie inside the data area.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), data.add(at), first);
            std::ptr::copy_nonoverlapping(bytes.as_ptr().add(first), data, n - first);
        }
        self.tail += n as u64;
        self.map
            .header(self.ring)
            .tail
            .store(self.tail, Ordering::Release);
        Ok(n)
    }

    /// After publishing: whether the reader was about to block (then it must be rung). Takes
    /// the request, so each sleep is rung once.
    pub(crate) fn take_sleeper(&self) -> bool {
        let h = self.map.header(self.ring);
        fence(Ordering::SeqCst);
        h.sleeping.load(Ordering::Relaxed) != 0 && h.sleeping.swap(0, Ordering::AcqRel) != 0
    }

    /// The ring is full: asks the reader to ring when it makes room, then looks again; whether
    /// there is room already (then no doorbell may come, and the writer goes on at once).
    pub(crate) fn ask_for_room(&mut self) -> Result<bool, Corrupt> {
        let h = self.map.header(self.ring);
        h.room.store(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        Ok(self.tail - self.head()? < CAPACITY as u64)
    }
}

/// The reading end of one ring.
pub(crate) struct Consumer {
    map: std::sync::Arc<Mapping>,
    ring: usize,
    /// Bytes read (this side's own count).
    head: u64,
}

impl Consumer {
    pub(crate) fn new(map: std::sync::Arc<Mapping>, ring: usize) -> Consumer {
        Consumer { map, ring, head: 0 }
    }

    /// Bytes waiting to be read.
    pub(crate) fn available(&self) -> Result<usize, Corrupt> {
        let tail = self.map.header(self.ring).tail.load(Ordering::Acquire);
        if tail < self.head {
            return Err(Corrupt("the writer moved back"));
        }
        if tail - self.head > CAPACITY as u64 {
            return Err(Corrupt("the writer ran past the reader"));
        }
        Ok((tail - self.head) as usize)
    }

    /// Copies up to `buf.len()` waiting bytes into `buf`; how many.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Result<usize, Corrupt> {
        let n = self.available()?.min(buf.len());
        self.copy_out(n, |src, off, len| {
            // SAFETY: see `copy_out`; `off + len <= n <= buf.len()`.
            unsafe { std::ptr::copy_nonoverlapping(src, buf.as_mut_ptr().add(off), len) }
        });
        Ok(n)
    }

    /// Appends up to `max` waiting bytes to `out`; how many.
    pub(crate) fn read_into(&mut self, out: &mut Vec<u8>, max: usize) -> Result<usize, Corrupt> {
        let n = self.available()?.min(max);
        out.reserve(n);
        let base = out.len();
        self.copy_out(n, |src, off, len| {
            // SAFETY: `reserve` made room for `n` bytes past `base`; `off + len <= n`.
            unsafe { std::ptr::copy_nonoverlapping(src, out.as_mut_ptr().add(base + off), len) }
        });
        // SAFETY: the `n` bytes past `base` were just written.
        unsafe { out.set_len(base + n) };
        Ok(n)
    }

    /// Hands the next `n` bytes (which `available` vouched for) to `copy` as one or two pieces
    /// `(source, offset in the output, length)`, then gives their room back to the writer.
    fn copy_out(&mut self, n: usize, mut copy: impl FnMut(*const u8, usize, usize)) {
        if n == 0 {
            return;
        }
        let at = (self.head % CAPACITY as u64) as usize;
        let first = n.min(CAPACITY - at);
        let data = self.map.data(self.ring);
        // Both pieces lie inside the data area; the writer published them (the `Acquire` load
        // of `tail` in `available`) and does not touch them until `head` moves past them.
        // SAFETY: `at < CAPACITY`.
        copy(unsafe { data.add(at) }, 0, first);
        copy(data, first, n - first);
        self.head += n as u64;
        self.map
            .header(self.ring)
            .head
            .store(self.head, Ordering::Release);
    }

    /// Says that this side is about to block waiting for a doorbell; true if bytes arrived in
    /// the meantime (then it must not block).
    pub(crate) fn prepare_sleep(&self) -> Result<bool, Corrupt> {
        let h = self.map.header(self.ring);
        h.sleeping.store(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.available()? > 0 {
            h.sleeping.store(0, Ordering::Relaxed);
            return Ok(true);
        }
        Ok(false)
    }

    /// After reading: whether the writer waits for room (then it must be rung). Takes the
    /// request, so each wait is rung once.
    pub(crate) fn take_room_request(&self) -> bool {
        let h = self.map.header(self.ring);
        fence(Ordering::SeqCst);
        h.room.load(Ordering::Relaxed) != 0 && h.room.swap(0, Ordering::AcqRel) != 0
    }

    /// Back from blocking: no doorbell is wanted any more.
    pub(crate) fn woke(&self) {
        self.map
            .header(self.ring)
            .sleeping
            .store(0, Ordering::Relaxed);
    }

    /// Spins (yielding now and then) for at most `spin` until bytes are waiting; whether they
    /// are.
    pub(crate) fn spin(&self, spin: Duration) -> Result<bool, Corrupt> {
        let start = Instant::now();
        let mut i = 0u32;
        loop {
            if self.available()? > 0 {
                return Ok(true);
            }
            i = i.wrapping_add(1);
            if i % 64 == 0 {
                if start.elapsed() >= spin {
                    return Ok(false);
                }
                std::thread::yield_now();
            }
            std::hint::spin_loop();
        }
    }
}

/// A look at a ring's indices and doorbell request without its consumer's lock, for the
/// threads that share the parent's end of a reply ring (`port.rs`). What it says is a hint:
/// the consumer's own checks decide what is read.
#[derive(Clone)]
pub(crate) struct Watch {
    map: std::sync::Arc<Mapping>,
    ring: usize,
}

impl Watch {
    /// Bytes may be waiting (the published `tail` is not the consumer's `head`).
    pub(crate) fn maybe_bytes(&self) -> bool {
        let h = self.map.header(self.ring);
        h.tail.load(Ordering::Acquire) != h.head.load(Ordering::Relaxed)
    }

    /// Asks the producer to ring (`true`) or not to (`false`) when it next writes; followed by
    /// a `SeqCst` fence, so that a check of `maybe_bytes` after it sees what the producer wrote
    /// before it saw the request.
    pub(crate) fn want_doorbell(&self, want: bool) {
        self.map
            .header(self.ring)
            .sleeping
            .store(want as u32, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// Whether a doorbell is still asked for (the producer takes the request when it rings).
    pub(crate) fn doorbell_wanted(&self) -> bool {
        self.map.header(self.ring).sleeping.load(Ordering::SeqCst) != 0
    }
}

impl Consumer {
    /// A lock-free look at this ring.
    pub(crate) fn watch(&self) -> Watch {
        Watch {
            map: self.map.clone(),
            ring: self.ring,
        }
    }
}

/// Writes all of `bytes` into `p`, ringing the reader when it sleeps; while the ring is full,
/// waits for room (spinning, then napping up to a millisecond), calling `gone` at each step and
/// giving up if the reader has gone (`ch` hung up). The worker writes its replies so: the
/// parent, its reader, never stops reading. (The parent never waits for room: `outbox.rs`.)
pub(crate) fn write_all(p: &mut Producer, mut bytes: &[u8], ch: &Channel) -> io::Result<()> {
    let mut step = 0u32;
    loop {
        let n = p.write_some(bytes)?;
        bytes = &bytes[n..];
        if n > 0 {
            step = 0;
            if p.take_sleeper() {
                ch.ring();
            }
        }
        if bytes.is_empty() {
            return Ok(());
        }
        if ch.hung_up() {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the other side of the ring is gone",
            ));
        }
        step += 1;
        if step < 64 {
            std::hint::spin_loop();
        } else if step < 128 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(((step - 127) * 20).min(1000) as u64));
        }
    }
}

/// Runs the parent's side of a reply ring against a hostile worker scripted by `script` (the
/// fuzz target calls this): each step either appends bytes to the ring as a worker would, or
/// stores an arbitrary tail, and then the parent reads what the ring holds into a frame buffer
/// and takes the frames out, as its reader thread does. Whatever the script does, the parent's
/// side only ever returns frames, a corrupt ring, or a frame error; it never panics, reads
/// outside the ring, or buffers more than a frame limit's worth beyond the ring's capacity.
#[doc(hidden)]
pub fn check_consumer(script: &[u8]) {
    let map = std::sync::Arc::new(Mapping::anonymous());
    let mut worker = Producer::new(map.clone(), TO_PARENT);
    let mut parent = Consumer::new(map.clone(), TO_PARENT);
    let limit = 1 << 12;
    let mut buf = crate::remote::wire::FrameBuf::new(limit);
    let mut rest = script;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        if op & 1 == 0 {
            // Append up to 255 bytes honestly.
            let n = (op as usize >> 1).min(rest.len());
            let _ = worker.write_some(&rest[..n]);
            rest = &rest[n..];
        } else {
            // Scribble: an arbitrary tail.
            let mut t = [0u8; 8];
            let n = rest.len().min(8);
            t[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            map.header(TO_PARENT)
                .tail
                .store(u64::from_le_bytes(t), Ordering::Release);
        }
        match buf.append_with(|v| parent.read_into(v, 1 << 16)) {
            Err(_) => return, // the parent kills such a worker
            Ok(n) => assert!(n <= CAPACITY),
        }
        loop {
            match buf.next_frame() {
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(_) => return, // likewise
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn pair() -> (Producer, Consumer) {
        let m = Arc::new(Mapping::heap());
        (Producer::new(m.clone(), 0), Consumer::new(m, 0))
    }

    #[test]
    fn bytes_pass_in_order_across_the_wrap() {
        let (mut p, mut c) = pair();
        let chunk: Vec<u8> = (0..=255u8).cycle().take(CAPACITY / 3 + 7).collect();
        let mut got = Vec::new();
        for _ in 0..10 {
            let mut rest = &chunk[..];
            while !rest.is_empty() {
                let n = p.write_some(rest).unwrap();
                rest = &rest[n..];
                c.read_into(&mut got, usize::MAX).unwrap();
            }
        }
        c.read_into(&mut got, usize::MAX).unwrap();
        assert_eq!(got.len(), chunk.len() * 10);
        assert!(got.chunks(chunk.len()).all(|g| g == &chunk[..]));
    }

    #[test]
    fn a_full_ring_takes_nothing_more() {
        let (mut p, mut c) = pair();
        let big = vec![7u8; CAPACITY + 10];
        assert_eq!(p.write_some(&big).unwrap(), CAPACITY);
        assert_eq!(p.write_some(&big).unwrap(), 0);
        let mut buf = vec![0u8; 10];
        assert_eq!(c.read(&mut buf).unwrap(), 10);
        assert_eq!(p.write_some(&big).unwrap(), 10);
    }

    /// A writer whose indices make no sense is refused, not trusted: a tail that moves back, or
    /// runs more than the capacity ahead, and a head (as the writer sees it) ahead of its tail.
    #[test]
    fn scribbled_indices_are_refused() {
        let (mut p, mut c) = pair();
        p.write_some(b"hello").unwrap();
        let map = c.map.clone();
        let h = map.header(0);
        h.tail.store(CAPACITY as u64 + 100, Ordering::Release);
        assert!(c.available().is_err());
        h.tail.store(5, Ordering::Release);
        let mut buf = [0u8; 5];
        assert_eq!(c.read(&mut buf).unwrap(), 5);
        h.tail.store(2, Ordering::Release);
        assert!(c.available().is_err(), "the tail moved back");
        h.head.store(1000, Ordering::Release);
        assert!(p.write_some(b"x").is_err(), "the head is ahead of the tail");
    }

    /// Two threads through one ring, as the two processes are: every byte arrives once and in
    /// order (Miri checks that no copy races with the other side).
    /// The fuzz target's property over a few scripted attacks (the corpus replays more).
    #[test]
    fn a_scripted_hostile_worker_never_breaks_the_parent() {
        let scripts: Vec<Vec<u8>> = vec![
            vec![],
            vec![0xfe; 600],
            vec![1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
            vec![
                20, 7, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 1, 3, 0, 0, 0, 0, 0, 0, 0,
            ],
            (0..=255u8).cycle().take(5000).collect(),
        ];
        for s in scripts {
            check_consumer(&s);
        }
    }

    #[test]
    fn two_threads_pass_a_stream() {
        let (mut p, mut c) = pair();
        let total: usize = if cfg!(miri) {
            3_000
        } else {
            3 * CAPACITY + 12_345
        };
        let writer = std::thread::spawn(move || {
            let bytes: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let n = p.write_some(&rest[..rest.len().min(1000)]).unwrap();
                rest = &rest[n..];
                if n == 0 {
                    std::thread::yield_now();
                }
            }
        });
        let mut got = Vec::new();
        while got.len() < total {
            if c.read_into(&mut got, 777).unwrap() == 0 {
                std::thread::yield_now();
            }
        }
        writer.join().unwrap();
        assert!(got.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
    }
}
