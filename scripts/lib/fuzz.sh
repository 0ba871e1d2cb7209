#!/usr/bin/env bash
# Fuzzing with cargo-fuzz (libFuzzer): builds every target under fuzz/ and runs each for a
# while from its committed seeds (fuzz/corpus/<target>/); fails on the first crash.
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

# Builds every fuzz target.
fuzz_build() {
  fuzz_install && fuzz_toolchain || return 1
  "${FUZZ_CARGO[@]}" fuzz build "${FUZZ_FLAGS[@]}"
}

# Runs every target (or the ones named) for SECONDS each; prints executions per target.
# The growing corpus goes to .run/fuzz/corpus/<target>; fuzz/corpus/<target> stays as committed.
fuzz_run() {
  local secs="${1:-30}"
  shift || true
  fuzz_build || return 1
  local targets=("$@")
  [ ${#targets[@]} -eq 0 ] && mapfile -t targets < <("${FUZZ_CARGO[@]}" fuzz list)
  local summary=() t log execs rate
  for t in "${targets[@]}"; do
    mkdir -p ".run/fuzz/corpus/$t" ".run/fuzz/logs"
    log=".run/fuzz/logs/$t.log"
    echo "== fuzz $t (${secs}s)"
    if ! "${FUZZ_CARGO[@]}" fuzz run "${FUZZ_FLAGS[@]}" "$t" ".run/fuzz/corpus/$t" "fuzz/corpus/$t" -- \
      -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
      tail -n 60 "$log"
      echo "otrbot: fuzz target $t failed (log: $log; reproducer under fuzz/artifacts/$t/)" >&2
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
