//! The cluster engine in spawned mode: worker ranks started with `MPI_Comm_spawn` from this
//! test binary (a singleton MPI process). Static mode runs under `mpirun`: `tests/mpi_static.rs`.
#![cfg(feature = "mpi")]

use std::time::Duration;

use concurrent_futures::{as_completed, register, MapOptions, MpiPoolExecutor, SubmitOptions};

#[path = "suite/util.rs"]
mod util;

fn square(x: u64) -> u64 {
    x * x
}
fn boom(_: ()) -> u32 {
    panic!("exploded on purpose")
}
fn crash(_: ()) -> u32 {
    std::process::abort()
}
fn host_pid(_: ()) -> (u32, u32) {
    (std::process::id(), unsafe { libc_getppid() })
}
fn stuck(_: ()) {
    loop {
        std::thread::park()
    }
}
extern "C" {
    #[link_name = "getppid"]
    fn libc_getppid() -> u32;
}
register!(square, boom, crash, host_pid, stuck);

fn pool(n: usize) -> MpiPoolExecutor {
    MpiPoolExecutor::builder()
        .max_workers(n)
        .spawn()
        .expect("spawned worker ranks")
}

#[test]
fn submit_map_and_failures_on_spawned_ranks() {
    let _watchdog =
        util::Watchdog::new("submit_map_and_failures_on_spawned_ranks", util::TEST_LIMIT);
    let pool = pool(2);
    assert_eq!(pool.max_workers(), 2);
    assert_eq!(pool.ranks().len(), 2);
    assert_eq!(pool.submit_fn(square, 7).unwrap().result(), Ok(49));

    // map, one per message and chunked; results in order.
    let want: Vec<u64> = (0..500).map(|x| x * x).collect();
    let got: Vec<u64> = pool.map(square, 0..500).map(Result::unwrap).collect();
    assert_eq!(got, want);
    let got: Vec<u64> = pool
        .map_with(square, 0..500, MapOptions::new().chunksize(50))
        .map(Result::unwrap)
        .collect();
    assert_eq!(got, want);
    let mut un: Vec<u64> = pool
        .map_unordered(square, 0..100)
        .map(Result::unwrap)
        .collect();
    un.sort();
    assert_eq!(un, want[..100]);

    // as_completed over futures from this engine.
    let fs: Vec<_> = (0..10)
        .map(|x| pool.submit_fn(square, x).unwrap())
        .collect();
    assert_eq!(as_completed(&fs).count(), 10);

    // A panic fails its own future with the message and location.
    let e = pool.submit_fn(boom, ()).unwrap().result().unwrap_err();
    assert!(e.is_panic(), "{e}");
    assert!(e.to_string().contains("exploded on purpose"), "{e}");
    assert!(
        e.panic_location().unwrap().contains("mpi_spawned.rs"),
        "{e:?}"
    );

    // A crash kills a local worker process only: WorkerDied with host and pid; the pool goes on.
    let e = pool.submit_fn(crash, ()).unwrap().result().unwrap_err();
    assert!(e.is_worker_died(), "{e}");
    match &e {
        concurrent_futures::TaskError::WorkerDied { host, pid, .. } => {
            assert!(host.is_some(), "{e:?}");
            assert!(*pid > 0, "{e:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(pool.submit_fn(square, 3).unwrap().result(), Ok(9));

    // Tasks run in worker processes whose parent is a worker rank, not this process.
    let (pid, ppid) = pool.submit_fn(host_pid, ()).unwrap().result().unwrap();
    assert_ne!(pid, std::process::id());
    assert_ne!(ppid, std::process::id());
    assert!(pool.ranks().iter().any(|r| r.2 == ppid));

    // Retries: a crash retried twice fails with every attempt listed.
    let e = pool
        .submit_fn_with(crash, (), SubmitOptions::new().retries(2))
        .unwrap()
        .result()
        .unwrap_err();
    assert!(e.to_string().contains("attempt 3 of 3"), "{e}");

    // A time limit kills the local worker and fails the task only.
    let e = pool
        .submit_fn_with(
            stuck,
            (),
            SubmitOptions::new().timeout(Duration::from_millis(200)),
        )
        .unwrap()
        .result()
        .unwrap_err();
    assert!(e.is_task_timeout(), "{e}");

    pool.shutdown(true, false);
    assert!(pool.submit_fn(square, 1).unwrap_err().is_shutdown());
}
