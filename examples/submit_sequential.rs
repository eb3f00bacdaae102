//! Submit and use sequentially: submit every task, then take the results in submission order
//! by walking the futures themselves.
//!
//! ```python
//! with ThreadPoolExecutor(10) as executor:
//!     futures = [executor.submit(task, i) for i in range(10)]
//!     for future in futures:
//!         print(future.result())
//! ```
//!
//! Run: `cargo run --example submit_sequential`

use std::error::Error;
use std::thread::sleep;
use std::time::Duration;

use concurrent_futures::ThreadPoolExecutor;
use rand::random;

/// Sleeps for a random time under 0.3 s (Python's version: under a second), returns its input.
fn task(name: u32) -> u32 {
    sleep(Duration::from_secs_f64(random::<f64>() * 0.3));
    name
}

fn main() -> Result<(), Box<dyn Error>> {
    let executor = ThreadPoolExecutor::with_max_workers(10)?;
    let futures = (0..10)
        .map(|i| executor.submit(move || task(i)))
        .collect::<Result<Vec<_>, _>>()?;
    for future in futures {
        println!("{}", future.result()?);
    }
    Ok(())
}
