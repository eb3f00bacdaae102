use concurrent_futures::ProcessPoolExecutor;
fn main() {
    let pool = ProcessPoolExecutor::new();
    let name = String::from("x");
    let _ = pool.submit_fn(move |x: u32| format!("{name}{x}"), 1);
}
