#!/usr/bin/env bash
# Fuzzing with cargo-fuzz (libFuzzer): builds every target of every fuzz package (fuzz/ for
# the application, crates/<crate>/fuzz/ for a crate's own, found without being listed here)
# and runs each for a while from its committed seeds (<package>/corpus/<target>/); fails on
# the first crash. Target names are unique across packages.
# Sourced by scripts/test; also runnable: scripts/lib/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# cargo-fuzz needs a nightly compiler; when there is none (CI), stable with
# RUSTC_BOOTSTRAP=1 is used instead. The build has no sanitizer (safe Rust: libFuzzer's
# coverage and Rust's own checks are what matter), keeps debug assertions on, and uses 16
# codegen units (and unoptimised cold dependencies, fuzz/Cargo.toml) so that it stays short.

FUZZ_FLAGS=(--sanitizer none --debug-assertions --codegen-units 16)

# Sets FUZZ_CARGO to the cargo command that can build fuzz targets.
fuzz_toolchain() {
  if cargo +nightly --version >/dev/null 2>&1 && [ -z "${OTRBOT_FUZZ_STABLE:-}" ]; then
    FUZZ_CARGO=(cargo +nightly)
  else
    FUZZ_CARGO=(env RUSTC_BOOTSTRAP=1 cargo)
  fi
}

# Installs cargo-fuzz when it is missing.
fuzz_install() {
  command -v cargo-fuzz >/dev/null && return 0
  echo "otrbot: installing cargo-fuzz (cargo install --locked cargo-fuzz)" >&2
  cargo install --locked cargo-fuzz
}

# Prints the directory of every fuzz package (a fuzz/Cargo.toml), the application's first.
fuzz_dirs() {
  local d
  for d in fuzz crates/*/fuzz; do
    [ -f "$d/Cargo.toml" ] && echo "$d"
  done
}

# Builds every fuzz target of every fuzz package.
fuzz_build() {
  fuzz_install && fuzz_toolchain || return 1
  local dir
  for dir in $(fuzz_dirs); do
    echo "== fuzz build $dir"
    "${FUZZ_CARGO[@]}" fuzz build --fuzz-dir "$dir" "${FUZZ_FLAGS[@]}" || return 1
  done
}

# Runs every target (or the ones named) for SECONDS each; prints executions per target.
# The growing corpus goes to .run/fuzz/corpus/<target>; <package>/corpus/<target> stays as
# committed.
fuzz_run() {
  local secs="${1:-30}"
  shift || true
  fuzz_build || return 1
  local named=("$@") runs=() dir t n
  # "<package dir> <target>" for every target to run, in package order.
  for dir in $(fuzz_dirs); do
    while read -r t; do
      [ -n "$t" ] || continue
      if [ ${#named[@]} -eq 0 ] || printf '%s\n' "${named[@]}" | grep -qxF "$t"; then
        runs+=("$dir $t")
      fi
    done < <("${FUZZ_CARGO[@]}" fuzz list --fuzz-dir "$dir")
  done
  for n in "${named[@]}"; do
    if ! printf '%s\n' "${runs[@]}" | grep -q " $n\$"; then
      echo "otrbot: no fuzz target named $n (in $(fuzz_dirs | tr '\n' ' '))" >&2
      return 1
    fi
  done
  local summary=() run log execs rate
  for run in "${runs[@]}"; do
    dir="${run% *}"
    t="${run#* }"
    mkdir -p ".run/fuzz/corpus/$t" ".run/fuzz/logs"
    log=".run/fuzz/logs/$t.log"
    echo "== fuzz $t ($dir, ${secs}s)"
    # The committed seeds, where the target has any (git keeps no empty directory).
    local seeds=()
    [ -d "$dir/corpus/$t" ] && seeds=("$dir/corpus/$t")
    if ! "${FUZZ_CARGO[@]}" fuzz run --fuzz-dir "$dir" "${FUZZ_FLAGS[@]}" "$t" \
      ".run/fuzz/corpus/$t" "${seeds[@]}" -- \
      -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
      tail -n 60 "$log"
      echo "otrbot: fuzz target $t failed (log: $log; reproducer under $dir/artifacts/$t/)" >&2
      return 1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    summary+=("$(printf '%-14s %12s executions  %8s/s  no crash' "$t" "${execs:-?}" "${rate:-?}")")
  done
  printf '%s\n' "${summary[@]}"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cd "$(dirname "$0")/../.."
  fuzz_run "$@"
fi
