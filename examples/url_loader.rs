//! Fan-out over I/O: load several URLs at once, handle each page (or its error) as it arrives,
//! and know which URL each result belongs to. The loads are simulated (latency, then a page of
//! bytes or a lookup error), so this runs without a network.
//!
//! ```python
//! with ThreadPoolExecutor(max_workers=5) as executor:
//!     future_to_url = {executor.submit(load_url, url, 60): url for url in URLS}
//!     for future in as_completed(future_to_url):
//!         url = future_to_url[future]
//!         try:
//!             data = future.result()
//!         except Exception as exc:
//!             print('%r generated an exception: %s' % (url, exc))
//!         else:
//!             print('%r page is %d bytes' % (url, len(data)))
//! ```
//!
//! A `HashMap<Future<T>, Url>` goes to `as_completed` as is and comes back as `(future, url)`
//! pairs. `load_url` returns a `Result`, as Rust I/O does, so `future.result()` is a nested
//! `Result`: the outer one says whether the task ran (it may have panicked or been cancelled),
//! the inner one what the load returned.
//!
//! Run: `cargo run --example url_loader`

use std::collections::HashMap;
use std::error::Error;
use std::io;
use std::thread::sleep;
use std::time::{Duration, Instant};

use concurrent_futures::{as_completed, ThreadPoolExecutor};

const URLS: [&str; 5] = [
    "http://www.foxnews.com/",
    "http://www.cnn.com/",
    "http://europe.wsj.com/",
    "http://www.bbc.co.uk/",
    "http://some-made-up-domain.com/",
];

/// A stand-in for an HTTP GET: each known site answers after its own latency with a page of its
/// own size; an unknown host fails fast, like a DNS lookup that finds nothing.
fn load_url(url: &str, timeout: Duration) -> io::Result<Vec<u8>> {
    let (latency_ms, size) = match url {
        "http://www.foxnews.com/" => (250, 229_313),
        "http://www.cnn.com/" => (150, 168_933),
        "http://europe.wsj.com/" => (200, 283_893),
        "http://www.bbc.co.uk/" => (100, 938_109),
        _ => {
            sleep(Duration::from_millis(30));
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "failed to lookup address information: Name or service not known",
            ));
        }
    };
    let latency = Duration::from_millis(latency_ms);
    if latency > timeout {
        return Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
    }
    sleep(latency);
    Ok(vec![b'x'; size])
}

fn main() -> Result<(), Box<dyn Error>> {
    let timeout = Duration::from_secs(60);
    let good_urls = &URLS[..4]; // the reachable ones

    println!("-- sequential vs. concurrent: threads wait for I/O side by side");
    let start = Instant::now();
    let sequential: Vec<usize> = good_urls
        .iter()
        .map(|url| load_url(url, timeout).map(|page| page.len()))
        .collect::<io::Result<_>>()?;
    println!("Sequential: {:.2}s", start.elapsed().as_secs_f64());

    let start = Instant::now();
    let mut concurrent = Vec::new();
    {
        let executor = ThreadPoolExecutor::with_max_workers(4)?;
        for page in executor.map(
            move |url: &str| load_url(url, timeout),
            good_urls.iter().copied(),
        ) {
            concurrent.push(page??.len()); // outer `?`: the task ran; inner `?`: the load worked
        }
    }
    println!("Concurrent: {:.2}s", start.elapsed().as_secs_f64());
    assert_eq!(sequential, concurrent);

    println!("-- future -> url map, results as they complete");
    let executor = ThreadPoolExecutor::with_max_workers(5)?;
    let mut future_to_url = HashMap::new();
    for url in URLS {
        future_to_url.insert(executor.submit(move || load_url(url, timeout))?, url);
    }
    for (future, url) in as_completed(future_to_url) {
        match future.result() {
            Ok(Ok(data)) => println!("{url:?} page is {} bytes", data.len()),
            Ok(Err(exc)) => println!("{url:?} generated an exception: {exc}"),
            Err(task_error) => println!("{url:?} did not run to the end: {task_error}"),
        }
    }
    Ok(())
}
