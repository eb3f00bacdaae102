#!/usr/bin/env bash
# Miri over tests/miri_smoke.rs and the process engine's shared-memory ring tests: a small tour
# of every path into the crate's unsafe code (the task's closure slot and header, the
# lifetime-erasing casts behind scoped tasks, the ring's copies), with tiny counts under
# cfg(miri). Miri reports undefined behaviour: data races, use after free, invalid aliasing,
# leaks.
#
#   scripts/miri.sh                      # one schedule, Stacked Borrows: tests 8-15 s
#   MIRI_SEEDS=0..4 scripts/miri.sh      # four schedules: ~1 min; 0..8: ~2 min
#   MIRI_TREE_BORROWS=1 scripts/miri.sh  # the Tree Borrows aliasing model instead: ~15 s
#
# Measured on 2 cores; the first run adds ~30 s for Miri's sysroot and ~45 s of build.
#   scripts/miri.sh cancel               # extra arguments go to `cargo miri test`
#
# Isolation is disabled because the waits read the clock (Instant::now). Needs a nightly
# toolchain with the miri component; installed here if missing (MIRI_TOOLCHAIN, default nightly).
set -euo pipefail
cd "$(dirname "$0")/.."

# Panics are part of the tests; capturing a backtrace for each is very slow under Miri.
export RUST_BACKTRACE="${MIRI_RUST_BACKTRACE:-0}"

toolchain="${MIRI_TOOLCHAIN:-nightly}"
if ! cargo "+$toolchain" miri --version >/dev/null 2>&1; then
    rustup toolchain install "$toolchain" --profile minimal --component miri,rust-src
fi
cargo "+$toolchain" miri setup

flags="-Zmiri-disable-isolation"
if [[ -n "${MIRI_SEEDS:-}" ]]; then
    flags+=" -Zmiri-many-seeds=$MIRI_SEEDS"
fi
if [[ -n "${MIRI_TREE_BORROWS:-}" ]]; then
    flags+=" -Zmiri-tree-borrows"
fi

start=$(date +%s)
MIRIFLAGS="$flags ${MIRIFLAGS:-}" cargo "+$toolchain" miri test --test miri_smoke "$@"
# The process engine's shared-memory ring, two threads standing in for the two processes.
MIRIFLAGS="$flags ${MIRIFLAGS:-}" cargo "+$toolchain" miri test --lib process::ring "$@"
echo "miri: done in $(($(date +%s) - start)) s (MIRIFLAGS=$flags ${MIRIFLAGS:-})"
