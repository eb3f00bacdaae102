use concurrent_futures::{register, ProcessPoolExecutor};
fn read(path: String) -> std::io::Result<String> { std::fs::read_to_string(path) }
register!(read);
fn main() {
    let pool = ProcessPoolExecutor::new();
    let _ = pool.submit_fn(read, "x".to_string());
}
