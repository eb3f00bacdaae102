use concurrent_futures::{register, ProcessPoolExecutor};
struct Point { x: i32 }
fn norm(p: Point) -> i32 { p.x }
register!(norm);
fn main() {
    let pool = ProcessPoolExecutor::new();
    let _ = pool.submit_fn(norm, Point { x: 1 });
}
