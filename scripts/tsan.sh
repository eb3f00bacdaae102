#!/usr/bin/env bash
# ThreadSanitizer over the thread engine's tests: tests/miri_smoke.rs plus every thread-engine
# test target that exists (tests/thread_*.rs and tests/thread_*/main.rs), with std rebuilt
# instrumented (-Zbuild-std), so that races inside std's primitives are seen too. TSan makes the
# test binary exit non-zero if it reported anything.
#
#   scripts/tsan.sh                        # the tests themselves: ~3 s
#   TSAN_TESTS="miri_smoke stress" scripts/tsan.sh   # choose the test targets (stress: ~50 s)
#   scripts/tsan.sh -- --test-threads 1    # extra arguments go to `cargo test`
#
# Needs a nightly toolchain with rust-src; installed here if missing (TSAN_TOOLCHAIN, default
# nightly). The build goes to target/tsan; the first one (std included) takes ~3 min on 2 cores,
# a rebuild after a change to the crate ~1.5 min.
set -euo pipefail
cd "$(dirname "$0")/.."

# Panics are part of the tests; capturing a backtrace for each is very slow under TSan.
export RUST_BACKTRACE="${TSAN_RUST_BACKTRACE:-0}"

toolchain="${TSAN_TOOLCHAIN:-nightly}"
target="$(rustc "+$toolchain" -vV | sed -n 's/^host: //p')"
if ! rustup "+$toolchain" component list --installed 2>/dev/null | grep -q '^rust-src'; then
    rustup toolchain install "$toolchain" --profile minimal --component rust-src
fi

if [[ -z "${TSAN_TESTS:-}" ]]; then
    TSAN_TESTS="miri_smoke"
    for f in tests/thread_*.rs tests/thread_*/main.rs; do
        [[ -e "$f" ]] || continue
        name="${f#tests/}"
        name="${name%/main.rs}"
        name="${name%.rs}"
        TSAN_TESTS+=" $name"
    done
fi
args=()
for t in $TSAN_TESTS; do
    args+=(--test "$t")
done

start=$(date +%s)
RUSTFLAGS="-Zsanitizer=thread ${RUSTFLAGS:-}" \
TSAN_OPTIONS="${TSAN_OPTIONS:-second_deadlock_stack=1}" \
    cargo "+$toolchain" test -Zbuild-std --target "$target" --target-dir target/tsan \
    "${args[@]}" "$@"
echo "tsan: done in $(($(date +%s) - start)) s (tests: $TSAN_TESTS)"
