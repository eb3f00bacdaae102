//! Seed 002's pipeline: download with threads (I/O), process with processes (CPU), save with
//! threads (I/O). Downloads and saves are simulated (a sleep, then in-memory data; no network).
//!
//! ```python
//! with ThreadPoolExecutor(max_workers=5) as executor:
//!     downloaded_data = list(executor.map(download_data, urls))
//! with ProcessPoolExecutor(max_workers=4) as executor:
//!     processed_data = list(executor.map(process_data, downloaded_data))
//! with ThreadPoolExecutor(max_workers=3) as executor:
//!     saved_counts = list(executor.map(save_result, processed_data))
//! ```
//!
//! Run: `cargo run --example process_pipeline`

#[cfg(unix)]
use std::time::Duration;

#[cfg(unix)]
use concurrent_futures::{register, ProcessPoolExecutor, ThreadPoolExecutor};
#[cfg(unix)]
use serde::{Deserialize, Serialize};

#[cfg(unix)]
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Post {
    id: u64,
    user_id: u64,
}

#[cfg(unix)]
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Processed {
    processed: u64,
    count: usize,
}

/// I/O-bound: threads. Simulates `requests.get(url).json()`.
#[cfg(unix)]
fn download_data(user_id: u64) -> Vec<Post> {
    std::thread::sleep(Duration::from_millis(50));
    (1..=10 * user_id).map(|id| Post { id, user_id }).collect()
}

/// CPU-bound: processes.
#[cfg(unix)]
fn process_data(data: Vec<Post>) -> Processed {
    Processed {
        processed: data.iter().map(|p| p.id * p.id).sum(),
        count: data.len(),
    }
}
#[cfg(unix)]
register!(process_data);

/// I/O-bound: threads. Simulates writing `result_{count}.json`.
#[cfg(unix)]
fn save_result(result: Processed) -> usize {
    std::thread::sleep(Duration::from_millis(20));
    result.count
}

#[cfg(not(unix))]
fn main() {
    eprintln!("this example needs the process engine, which is Unix-only for now");
}

#[cfg(unix)]
fn main() {
    let users = 1..=5u64;

    let downloaded: Vec<Vec<Post>> = {
        let pool = ThreadPoolExecutor::with_max_workers(5).unwrap();
        pool.map(download_data, users).map(Result::unwrap).collect()
    };
    println!("Downloaded {} datasets", downloaded.len());

    let processed: Vec<Processed> = {
        let pool = ProcessPoolExecutor::with_max_workers(4).unwrap();
        pool.map(process_data, downloaded)
            .map(Result::unwrap)
            .collect()
    };
    println!("Processed {} datasets", processed.len());

    let saved: usize = {
        let pool = ThreadPoolExecutor::with_max_workers(3).unwrap();
        pool.map(save_result, processed).map(Result::unwrap).sum()
    };
    println!("Saved {saved} total items");
}
