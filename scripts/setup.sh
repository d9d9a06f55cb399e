#!/usr/bin/env bash
# Installs the project's build and runtime dependencies from Debian's packages (idempotent: nothing is
# downloaded when everything is already installed), then configures and builds into build/.
# Usage: scripts/setup.sh [extra cmake -D options]
# libopenblas0-openmp replaces Debian's reference BLAS under LibTorch: 3-4x faster network inference.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev libopenblas0-openmp libgoogle-perftools-dev libeigen3-dev nlohmann-json3-dev libcli11-dev
  zlib1g-dev libssl-dev libopencv-dev libdlib-dev libdlib-data libmatio-dev qt6-base-dev xvfb xauth fonts-dejavu-core
  libgtest-dev libgmock-dev libbenchmark-dev help2man desktop-file-utils appstream
  slurmctld slurmd slurm-client munge python3
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# One configuration for run.sh and test.sh (warnings are errors in both), so the second builds nothing new.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DLDDMM_WERROR=ON "$@" >/dev/null
cmake --build build --parallel "$(nproc)"
