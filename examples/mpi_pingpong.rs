//! The transport's limit for the cluster engine's round trip: a 16-byte blocking ping-pong
//! between ranks 0 and 1 with plain rsmpi (both sides busy-poll in the library), median of
//! 18,000 round trips after 2,000 of warm-up.
//!
//! ```text
//! mpirun -n 2 --oversubscribe --mca btl tcp,self target/release/examples/mpi_pingpong
//! ```

use std::time::Instant;

use concurrent_futures::mpi::rsmpi::{self, traits::*};

fn main() {
    let (universe, _) = rsmpi::initialize_with_threading(rsmpi::Threading::Funneled).unwrap();
    let world = universe.world();
    assert!(world.size() >= 2, "run with mpirun -n 2");
    let me = world.rank();
    let buf = [0u8; 16];
    let mut times = Vec::new();
    for i in 0..20_000 {
        let t = Instant::now();
        match me {
            0 => {
                world.process_at_rank(1).send(&buf[..]);
                let _ = world.process_at_rank(1).receive_vec::<u8>();
            }
            1 => {
                let _ = world.process_at_rank(0).receive_vec::<u8>();
                world.process_at_rank(0).send(&buf[..]);
            }
            _ => return,
        }
        if i >= 2_000 {
            times.push(t.elapsed());
        }
    }
    if me == 0 {
        times.sort();
        println!(
            "raw rsmpi ping-pong, 16 bytes: median {:.1} µs",
            times[times.len() / 2].as_secs_f64() * 1e6
        );
    }
}
