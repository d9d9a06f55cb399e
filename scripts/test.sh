#!/usr/bin/env bash
# Installs, builds (warnings are errors) and runs the whole test suite with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh -DLDDMM_WERROR=ON
cd build
ctest --output-on-failure -j "$(nproc)"
