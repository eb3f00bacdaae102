//! The design notes, one page each: the same text as the module documentation next to the
//! code it describes (most of those modules are private, so their notes are rendered here).
//! The public engine modules carry their own: `process` (how a task flows between the
//! processes, how a dead worker is detected, the threat model) and, with the `mpi` feature,
//! `mpi` (the cluster engine), whose heartbeat and lost ranks are described in `lost_ranks`
//! (with the `mpi` feature).

#[doc = include_str!("future/core.md")]
pub mod future_states {}

#[doc = include_str!("thread/README.md")]
pub mod thread_engine {}

#[doc = include_str!("thread/scope.md")]
pub mod scoped_tasks {}

#[doc = include_str!("wait/completion.md")]
pub mod waiting_on_many {}

#[cfg(all(any(unix, windows), feature = "process"))]
#[doc = include_str!("process/marker.md")]
pub mod worker_admission {}

#[cfg(all(any(unix, windows), feature = "process"))]
#[doc = include_str!("process/reader.md")]
pub mod worker_reader {}

#[cfg(all(any(unix, windows), feature = "process"))]
#[doc = include_str!("process/ring.md")]
pub mod shared_memory_rings {}

#[cfg(all(any(unix, windows), feature = "process"))]
#[doc = include_str!("process/port.md")]
pub mod reply_port {}

#[cfg(all(any(unix, windows), feature = "process"))]
#[doc = include_str!("process/spawner.md")]
pub mod worker_spawner {}

#[cfg(all(any(unix, windows), feature = "process"))]
#[doc = include_str!("remote/README.md")]
pub mod remote_engines {}

#[cfg(all(any(unix, windows), feature = "process"))]
#[doc = include_str!("remote/wire.md")]
pub mod frame_format {}

#[cfg(all(any(unix, windows), feature = "process"))]
#[doc = include_str!("remote/callbacks.md")]
pub mod callback_thread {}

#[cfg(all(any(unix, windows), feature = "process"))]
#[doc = include_str!("remote/unwind.md")]
pub mod panics_across_processes {}

#[cfg(feature = "mpi")]
#[doc = include_str!("mpi/liveness.md")]
pub mod lost_ranks {}
