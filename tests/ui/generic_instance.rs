// A generic function is registered once per type it is used with, by naming the instance.
use concurrent_futures::{register, ProcessPoolExecutor};
fn largest<T: PartialOrd>(v: Vec<T>) -> Option<T> {
    v.into_iter().reduce(|a, b| if b > a { b } else { a })
}
register!(largest::<u32>, largest::<String>);
fn main() {
    let pool = ProcessPoolExecutor::new();
    let _ = pool.submit_fn(largest::<u32>, vec![1, 2]);
}
