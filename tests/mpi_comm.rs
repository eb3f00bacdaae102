//! The `MPICommExecutor` shape: a program that initialised MPI itself (`Threading::Multiple`)
//! hands in its communicator and a root other than 0. Relaunches this binary under `mpirun`
//! with 3 ranks over TCP.
#![cfg(feature = "mpi")]

#[path = "mpi/launch.rs"]
mod launch;

use concurrent_futures::mpi::rsmpi::{self, traits::*};
use concurrent_futures::{register, MpiPoolExecutor};

fn triple(x: u64) -> u64 {
    3 * x
}
register!(triple);

#[test]
fn comm_rank() {
    if !launch::under_mpirun() {
        return; // not under mpirun: `own_communicator_under_mpirun` starts the job
    }
    let (universe, level) = rsmpi::initialize_with_threading(rsmpi::Threading::Multiple).unwrap();
    assert_eq!(
        level,
        rsmpi::Threading::Multiple,
        "Open MPI provides MPI_THREAD_MULTIPLE"
    );
    let world = universe.world();
    let me = world.rank();
    let pool = MpiPoolExecutor::builder()
        .workers_per_rank(1)
        .join_comm(&world, 1)
        .expect("join the communicator");
    match pool {
        Some(pool) => {
            assert_eq!(me, 1);
            let ranks: Vec<i32> = pool.ranks().iter().map(|r| r.0).collect();
            assert_eq!(ranks, [0, 2]);
            let got: Vec<u64> = pool.map(triple, 0..100).map(Result::unwrap).collect();
            assert_eq!(got, (0..100).map(|x| 3 * x).collect::<Vec<_>>());
        }
        None => assert_ne!(me, 1),
    }
    // The program's own communicator still works after the engine is done with it.
    world.barrier();
}

#[test]
fn own_communicator_under_mpirun() {
    if launch::under_mpirun() {
        return;
    }
    launch::run_on_ranks("comm_rank", 3);
}
