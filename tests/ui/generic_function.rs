use concurrent_futures::register;
fn id<T>(x: T) -> T { x }
register!(id);
fn main() {}
