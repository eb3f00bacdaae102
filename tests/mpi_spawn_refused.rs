//! Where MPI cannot spawn, the builder says so in one error naming the static mode, instead of
//! the library's fatal abort (the engine installs an error handler that returns errors). In a
//! test binary of its own: after a failed spawn, Open MPI refuses every later spawn of the
//! same process.
#![cfg(feature = "mpi")]

use concurrent_futures::{register, MpiPoolExecutor, ThreadPoolExecutor};

fn square(x: u64) -> u64 {
    x * x
}
register!(square);

#[test]
fn a_spawn_that_fails_is_an_error_naming_static_mode() {
    let err = MpiPoolExecutor::builder()
        .max_workers(1)
        .spawn_info("map_by", "ppr:0:node") // places no rank: the spawn fails
        .spawn()
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("could not spawn"), "{msg}");
    assert!(msg.contains("mpirun -n N"), "{msg}");
    assert!(msg.contains("join_world"), "{msg}");
    // The program carries on.
    let pool = ThreadPoolExecutor::with_max_workers(1).unwrap();
    assert_eq!(pool.submit(|| square(4)).unwrap().result(), Ok(16));
}
