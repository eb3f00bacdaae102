//! The physical limits a process round trip is measured against, in the same run: a one-byte
//! ping-pong between two processes over a `socketpair` with both sides spinning on non-blocking
//! reads (what two syscalls per side cost, with no wake-up), and the same over shared memory,
//! one cache line each way (what moving a line between two cores costs, with no syscall). The
//! blocking pipe of `process.rs` measures the machine's wake-up instead.
//!
//! Both spin, so each needs a core per side: on a machine with fewer than two, they measure
//! the scheduler.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Round trips of one byte over a socketpair to a forked child, both sides spinning on
/// `recv(MSG_DONTWAIT)`: nanoseconds each.
pub fn socketpair_spin(warmup: usize, iters: usize) -> Vec<f64> {
    let mut fds = [0i32; 2];
    // SAFETY: plain syscalls on fresh descriptors; the child only reads, writes and exits.
    unsafe {
        assert_eq!(
            libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()),
            0
        );
        let pid = libc::fork();
        assert!(pid >= 0);
        if pid == 0 {
            libc::close(fds[0]);
            let mut byte = 0u8;
            loop {
                let n = libc::recv(fds[1], (&mut byte as *mut u8).cast(), 1, libc::MSG_DONTWAIT);
                if n == 1 {
                    libc::send(fds[1], (&byte as *const u8).cast(), 1, 0);
                } else if n == 0 {
                    libc::_exit(0);
                }
            }
        }
        libc::close(fds[1]);
        let mut out = Vec::with_capacity(iters);
        let mut byte = 1u8;
        for i in 0..warmup + iters {
            let t = Instant::now();
            libc::send(fds[0], (&byte as *const u8).cast(), 1, 0);
            while libc::recv(fds[0], (&mut byte as *mut u8).cast(), 1, libc::MSG_DONTWAIT) != 1 {}
            if i >= warmup {
                out.push(t.elapsed().as_nanos() as f64);
            }
        }
        libc::close(fds[0]);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
        out
    }
}

/// Round trips over shared memory to a forked child: the parent writes a sequence number into
/// one cache line, the child, spinning, copies it into another, the parent spins until it
/// sees it. Nanoseconds each.
pub fn shared_memory(warmup: usize, iters: usize) -> Vec<f64> {
    const LINE: usize = 128; // two 64-byte lines apart: no false sharing with the prefetcher
                             // SAFETY: a fresh anonymous shared mapping, used as two atomics, unmapped at the end; the
                             // child only spins on it and exits.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            2 * LINE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED);
        let ping = &*(p as *const AtomicU64);
        let pong = &*((p as *const u8).add(LINE) as *const AtomicU64);
        let pid = libc::fork();
        assert!(pid >= 0);
        if pid == 0 {
            let mut seen = 0;
            loop {
                let v = ping.load(Ordering::Acquire);
                if v == u64::MAX {
                    libc::_exit(0);
                }
                if v != seen {
                    seen = v;
                    pong.store(v, Ordering::Release);
                }
                std::hint::spin_loop();
            }
        }
        let mut out = Vec::with_capacity(iters);
        for i in 0..warmup + iters {
            let seq = i as u64 + 1;
            let t = Instant::now();
            ping.store(seq, Ordering::Release);
            while pong.load(Ordering::Acquire) != seq {
                std::hint::spin_loop();
            }
            if i >= warmup {
                out.push(t.elapsed().as_nanos() as f64);
            }
        }
        ping.store(u64::MAX, Ordering::Release);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
        libc::munmap(p, 2 * LINE);
        out
    }
}
