#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang) and runs each for FUZZ_SECONDS (default 60) on its checked-in
# seed corpus. A crash leaves its input in build-fuzz/findings/ and fails the script: add it as a regression
# test (tests/fuzz_regressions/) once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
# clang and its libFuzzer runtime, from Debian (idempotent, as scripts/setup.sh).
if ! command -v clang++ >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends clang libclang-rt-dev
fi
cmake -S fuzz -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz --parallel "$(nproc)"
mkdir -p build-fuzz/findings
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run() {  # target, seed folders...
  local target="$1"; shift
  local work="build-fuzz/corpus-$target" seeds=() d
  mkdir -p "$work"
  rm -f "build-fuzz/findings/$target-"*
  for d in "$@"; do [ -d "$d" ] && seeds+=("$d"); done
  echo "== $target: ${seconds} s"
  "build-fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="build-fuzz/findings/$target-" "$work" "${seeds[@]}" 2>&1 | grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY|.*Test unit written)" || true
  if ls "build-fuzz/findings/$target-"* >/dev/null 2>&1; then
    echo "lddmm-face: error: $target found a crash: $(ls "build-fuzz/findings/$target-"*)" >&2
    return 1
  fi
}
status=0
run fuzz_pts fuzz/corpus/pts tests/fuzz_regressions/pts || status=1
run fuzz_scheme resources/schemes tests/fuzz_regressions/scheme || status=1
run fuzz_landmarks fuzz/corpus/landmarks tests/fuzz_regressions/landmarks || status=1
run fuzz_config fuzz/corpus/config tests/fuzz_regressions/config || status=1
exit $status
