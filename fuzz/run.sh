#!/usr/bin/env bash
# Runs every fuzz target for the given number of seconds each (default 600).
# cargo fuzz needs nightly features; RUSTC_BOOTSTRAP lets the stable toolchain provide them.
# The checks live in each codec's `fuzzing` module. `regressions/<target>` holds the inputs kept
# for `cargo test` to replay: crashes once fixed, and the corpus minimized to distinct coverage
# (`cargo fuzz cmin <target> corpus/<target>`, then the files of at most 1 KiB copied there).
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
for target in $(cargo fuzz list); do
    mkdir -p "corpus/$target" "regressions/$target"
    RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "corpus/$target" "regressions/$target" -- \
        -max_total_time="$seconds" -max_len=16384 -rss_limit_mb=2048
done
