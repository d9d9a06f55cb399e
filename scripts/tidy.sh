#!/usr/bin/env bash
# clang-tidy (checks in .clang-tidy) on the product's C++ files a change touches: the files given, or those that
# differ from TIDY_BASE (default HEAD~1, the commit under test), or every file with TIDY_ALL=1. Needs build/
# (compile_commands.json). Functions listed in scripts/tidy-baseline.txt ("path function") predate the size
# check and may stay over it; anything else found fails.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-tidy >/dev/null; then  # from Debian, as scripts/setup.sh installs the rest
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends clang-tidy
fi
[ -f build/compile_commands.json ] || { echo "tidy: no build/compile_commands.json (run scripts/setup.sh)"; exit 1; }
if [ $# -gt 0 ]; then
  files=("$@")
elif [ "${TIDY_ALL:-0}" = 1 ]; then
  mapfile -t files < <(git ls-files 'core/*.cpp' 'app/*.cpp' 'ui/*.cpp')
else
  base="${TIDY_BASE:-HEAD~1}"
  git rev-parse -q --verify "$base" >/dev/null || base=$(git hash-object -t tree /dev/null)
  mapfile -t files < <(git diff --name-only --diff-filter=d "$base" -- 'core/*.cpp' 'app/*.cpp' 'ui/*.cpp')
fi
if [ ${#files[@]} -eq 0 ]; then
  echo "tidy: no C++ file of core/, app/ or ui/ changed"
  exit 0
fi
echo "tidy: ${#files[@]} file(s)"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
printf '%s\n' "${files[@]}" |
  xargs -P "$(nproc)" -n 1 clang-tidy -p build --quiet --extra-arg=-Wno-unknown-warning-option 2>/dev/null |
  grep -E '^/[^:]+:[0-9]+:[0-9]+: (warning|error): ' | grep -v 'clang-diagnostic' | sort -u > "$out" || true
found=0
while IFS= read -r line; do
  file=$(realpath --relative-to=. "${line%%:*}")
  fn=$(sed -n "s/.*function '\([^']*\)' exceeds.*/\1/p" <<<"$line")
  if [ -n "$fn" ] && grep -qxF "$file $fn" scripts/tidy-baseline.txt; then continue; fi
  echo "$line"
  found=$((found + 1))
done < "$out"
if [ "$found" -gt 0 ]; then
  echo "tidy: $found finding(s)"
  exit 1
fi
echo "tidy: clean"
