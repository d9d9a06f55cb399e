#!/usr/bin/env bash
# Builds tools/cuda/lddmm-cuda (GPU checks, timings, headless training) against a CUDA LibTorch, on a
# machine that has none of the desktop packages (Qt, dlib, Debian's OpenCV): core/{flow,io,net} and core/train/ with
# a static OpenCV (core, imgproc, imgcodecs) and header-only Eigen and nlohmann-json from DEPS.
#   TORCH_DIR  LibTorch: a folder with include/ and lib/ (default: the installed Python torch package);
#              or TORCH_INCLUDE and TORCH_LIB (Debian's CPU LibTorch: /usr/include, /usr/lib/x86_64-linux-gnu)
#   DEPS       what tools/cuda/deps.sh made (default: .cuda-deps in the repository)
#   OUT_BIN    the program to write (default: build-cuda/lddmm-cuda)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${TORCH_INCLUDE:-}" ]; then
  TORCH_DIR=${TORCH_DIR:-$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))')}
  TORCH_INCLUDE=$TORCH_DIR/include TORCH_LIB=$TORCH_DIR/lib
fi
DEPS=${DEPS:-$repo/.cuda-deps}
OUT_BIN=${OUT_BIN:-$repo/build-cuda/lddmm-cuda}
abi=$(python3 -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))' 2>/dev/null || echo 1)
obj=$(dirname "$OUT_BIN")/obj
mkdir -p "$obj"
[ -d "$TORCH_INCLUDE/torch" ] || { echo "build.sh: no LibTorch headers in $TORCH_INCLUDE" >&2; exit 1; }
cuda_libs=()
[ -e "$TORCH_LIB/libtorch_cuda.so" ] && cuda_libs=(-ltorch_cuda -lc10_cuda)
[ -d "$DEPS/opencv/include" ] || { echo "build.sh: no OpenCV in $DEPS (run tools/cuda/deps.sh)" >&2; exit 1; }

sources=("$repo"/core/{flow,io,net}/*.cpp "$repo"/core/train/dataset.cpp "$repo"/core/train/trainer.cpp
  "$repo"/core/face/faces.cpp "$repo"/core/face/views.cpp "$repo"/tools/cuda/no_cofw.cpp "$repo"/tools/cuda/lddmm-cuda.cpp)
flags=(-O2 -fopenmp -DNDEBUG -D_GLIBCXX_USE_CXX11_ABI="$abi" -DLDDMM_SOURCE_RESOURCES="\"$repo/resources\""
  -DLDDMM_INSTALL_RESOURCES="\"\"" -I"$repo/core/flow/include" -I"$repo/core/io/include" -I"$repo/core/net/include" -I"$repo/core/face/include"
  -I"$repo/core/train/include"
  -isystem "$TORCH_INCLUDE/torch/csrc/api/include"
  -isystem "$DEPS/opencv/include/opencv4" -isystem "$DEPS/include")

# (-isystem /usr/include would hide the compiler's own C headers.)
[ "$TORCH_INCLUDE" != /usr/include ] && flags+=(-isystem "$TORCH_INCLUDE")

compile() {  # standard
  printf '%s\n' "${sources[@]}" | xargs -P "$(nproc)" -I{} sh -c \
    'f="{}"; o="$0/$(basename "${f%.cpp}").o"; extra=""; case "$f" in */flow.cpp) extra="-O3 -fno-math-errno";; esac;
     std=$1; shift; g++ -std=$std "$@" $extra -c "$f" -o "$o" 2>"$o.log" || { echo "FAILED: $f"; head -c 3000 "$o.log"; exit 255; }' \
    "$obj" "$1" "${flags[@]}"
}
echo "LibTorch: $TORCH_INCLUDE, $TORCH_LIB (C++11 ABI $abi, CUDA libraries: ${cuda_libs[*]:-none}); OpenCV: $DEPS/opencv"
if ! compile c++17; then
  echo "build.sh: C++17 failed; trying C++20"
  compile c++20
fi
g++ -o "$OUT_BIN" "$obj"/*.o "$DEPS"/opencv/lib/libopencv_imgcodecs.a "$DEPS"/opencv/lib/libopencv_imgproc.a \
  "$DEPS"/opencv/lib/libopencv_core.a "$DEPS"/lib/libjpeg.a "$DEPS"/lib/libpng16.a "$DEPS"/lib/libz.a \
  -L"$TORCH_LIB" -Wl,--no-as-needed "${cuda_libs[@]}" -ltorch -ltorch_cpu -lc10 -Wl,--as-needed \
  -Wl,-rpath,"$TORCH_LIB" -fopenmp -lpthread -ldl
echo "built $OUT_BIN"
