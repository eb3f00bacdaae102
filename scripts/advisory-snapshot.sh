#!/usr/bin/env bash
# Refreshes .ci/advisory-db.tar.gz (the RustSec database that .ci/advisories falls back to
# where GitHub cannot be reached) from a fresh clone of github.com/rustsec/advisory-db.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
git clone -q --depth 1 https://github.com/rustsec/advisory-db "$tmp/db"
(cd "$tmp/db" && git archive --format=tar HEAD crates rust README.md LICENSE.txt) \
    | gzip -9 > .ci/advisory-db.tar.gz
(cd "$tmp/db" && git log -1 --format="%cd, commit %H" --date=short) > .ci/advisory-db.date
rm -rf "$tmp"
echo "snapshot of $(cat .ci/advisory-db.date)"
