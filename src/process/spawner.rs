#![doc = include_str!("spawner.md")]

use std::io;
use std::process::{Child, Command};
use std::sync::mpsc::{channel, sync_channel, Sender, SyncSender};
use std::sync::Mutex;

use crate::sync::lock;

type Request = (Command, SyncSender<io::Result<Child>>);

static SPAWNER: Mutex<Option<Sender<Request>>> = Mutex::new(None);

/// The name of the spawner thread (tests tell it from a pool's own threads).
pub const THREAD_NAME: &str = "concurrent-futures-spawner";

/// Starts the spawner thread if it is not running.
pub(crate) fn ensure_started() -> io::Result<()> {
    let mut g = lock(&SPAWNER);
    if g.is_some() {
        return Ok(());
    }
    let (tx, rx) = channel::<Request>();
    let (ready_tx, ready) = sync_channel::<()>(1);
    std::thread::Builder::new()
        .name(THREAD_NAME.into())
        .spawn(move || {
            // Running, and named: whoever counts the program's threads sees it from now on.
            let _ = ready_tx.send(());
            for (cmd, reply) in rx {
                let _ = reply.send(super::sys::start_worker(cmd));
            }
        })?;
    let _ = ready.recv();
    *g = Some(tx);
    // The other thing a program has once for good, where the platform needs it (`sys`).
    super::sys::lifeline()?;
    Ok(())
}

/// Runs `cmd.spawn()` on the spawner thread.
pub(crate) fn spawn(cmd: Command) -> io::Result<Child> {
    ensure_started()?;
    let (tx, rx) = sync_channel(1);
    let sent = lock(&SPAWNER)
        .as_ref()
        .map(|s| s.send((cmd, tx)).is_ok())
        .unwrap_or(false);
    if !sent {
        return Err(io::Error::other("the worker spawner thread is not running"));
    }
    rx.recv()
        .unwrap_or_else(|_| Err(io::Error::other("the worker spawner thread stopped")))
}
