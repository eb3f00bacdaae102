//! The cluster engine in static mode: this test relaunches its own binary as every rank of an
//! `mpirun` job (3 ranks, the TCP transport forced, as between the nodes of a cluster). Rank 0
//! runs the checks over ranks 1 and 2; they serve until its pool shuts down, then return.
#![cfg(feature = "mpi")]

#[path = "mpi/launch.rs"]
mod launch;

use concurrent_futures::{register, Executor, MapOptions, MpiPoolExecutor, SubmitOptions};

fn square(x: u64) -> u64 {
    x * x
}
fn crash(_: ()) -> u32 {
    std::process::abort()
}
fn where_am_i(_: ()) -> u32 {
    std::os::unix::process::parent_id()
}
fn boom(_: ()) -> u32 {
    panic!("static boom")
}
register!(square, crash, where_am_i, boom);

/// Through the trait, as engine-generic code would.
fn total(pool: &impl Executor) -> u64 {
    pool.map(square, 0..200).map(Result::unwrap).sum()
}

/// Runs under `mpirun`: every rank calls `join_world`.
#[test]
fn static_rank() {
    if !launch::under_mpirun() {
        return; // not under mpirun: `static_mode_under_mpirun` starts the job
    }
    let pool = MpiPoolExecutor::builder()
        .workers_per_rank(1)
        .join_world()
        .expect("join the job");
    let Some(pool) = pool else { return }; // a worker rank, done serving
    assert_eq!(pool.ranks().len(), 2, "{:?}", pool.ranks());
    assert_eq!(pool.max_workers(), 2);
    assert_eq!(total(&pool), (0..200u64).map(|x| x * x).sum());
    let got: Vec<u64> = pool
        .map_with(square, 0..1000, MapOptions::new().chunksize(100))
        .map(Result::unwrap)
        .collect();
    assert_eq!(got, (0..1000u64).map(|x| x * x).collect::<Vec<_>>());
    // Tasks ran on both worker ranks (least-loaded dispatch spreads them).
    let fs: Vec<_> = (0..20)
        .map(|_| pool.submit_fn(where_am_i, ()).unwrap())
        .collect();
    let mut parents: Vec<u32> = fs.into_iter().map(|f| f.result().unwrap()).collect();
    parents.sort();
    parents.dedup();
    let rank_pids: Vec<u32> = pool.ranks().iter().map(|r| r.2).collect();
    assert!(
        parents.iter().all(|p| rank_pids.contains(p)),
        "{parents:?} {rank_pids:?}"
    );
    // A crash fails its own future with the host; the job and the pool go on.
    let e = pool.submit_fn(crash, ()).unwrap().result().unwrap_err();
    assert!(e.is_worker_died(), "{e}");
    assert!(e.to_string().contains(&pool.ranks()[0].1), "{e}");
    let e = pool.submit_fn(boom, ()).unwrap().result().unwrap_err();
    assert!(e.is_panic() && e.to_string().contains("static boom"), "{e}");
    let e = pool
        .submit_fn_with(crash, (), SubmitOptions::new().retries(1))
        .unwrap()
        .result()
        .unwrap_err();
    assert!(e.to_string().contains("attempt 2 of 2"), "{e}");
    assert_eq!(pool.submit_fn(square, 12).unwrap().result(), Ok(144));
    pool.shutdown(true, false);
}

/// Starts the job above and checks that every rank finished cleanly.
#[test]
fn static_mode_under_mpirun() {
    if launch::under_mpirun() {
        return;
    }
    launch::run_on_ranks("static_rank", 3);
}
