//! The compiler messages a user's mistake produces, pinned: each names the fix in its first line.
//!
//! The messages are rustc's, shaped by `#[diagnostic::on_unimplemented]` and
//! `#[diagnostic::do_not_recommend]` on `Payload` and `TaskFn` and by the shape of `register!`'s
//! expansion; they are pinned for the toolchain named below, and another rustc (whose wording
//! and layout drift between releases) skips the comparison and says so on stderr. After an intended
//! change: `TRYBUILD=overwrite cargo test --test compile_fail`, then read the new `.stderr`s.

#![cfg(all(unix, feature = "process"))]

/// The toolchain the `.stderr` files were written with.
const PINNED: &str = "1.95";

#[test]
fn mistakes_get_messages_that_name_the_fix() {
    let out = std::process::Command::new(std::env::var("RUSTC").unwrap_or("rustc".into()))
        .arg("--version")
        .output()
        .expect("rustc --version");
    let version = String::from_utf8_lossy(&out.stdout).into_owned();
    let t = trybuild::TestCases::new();
    // What must compile compiles on any toolchain.
    t.pass("tests/ui/generic_instance.rs");
    if !version.starts_with(&format!("rustc {PINNED}.")) {
        eprintln!(
            "compile-fail messages are pinned for rustc {PINNED}; this is {}: not compared",
            version.trim()
        );
        return;
    }
    t.compile_fail("tests/ui/closure_captures.rs");
    t.compile_fail("tests/ui/argument_not_serde.rs");
    t.compile_fail("tests/ui/io_result.rs");
    t.compile_fail("tests/ui/generic_function.rs");
}
