#!/usr/bin/env bash
# Gathers, on this (Debian) machine, what tools/cuda/build.sh needs on a GPU machine that has a CUDA
# LibTorch but none of the desktop packages, into DEPS (default .cuda-deps), and packs it as
# DEPS.tar.xz for carrying:
#   opencv/   a static OpenCV 4.6 (core, imgproc, imgcodecs; JPEG and PNG only), built from Debian's source
#             package (apt-get source opencv; needs a deb-src line) unless OPENCV_PREFIX names an install
#   include/  Eigen and nlohmann-json headers (Debian's)
#   lib/      Debian's static libjpeg, libpng16 and zlib
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
DEPS=${DEPS:-$repo/.cuda-deps}
work=${WORK:-/tmp/lddmm-cuda-deps}
mkdir -p "$DEPS/include" "$DEPS/lib" "$work"
if [ -z "${OPENCV_PREFIX:-}" ]; then
  (cd "$work" && [ -d opencv-src ] || { apt-get source --download-only opencv >/dev/null &&
    mkdir opencv-src && tar xf opencv_*.orig.tar.xz -C opencv-src --strip-components=1; })
  cmake -S "$work/opencv-src" -B "$work/opencv-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$DEPS/opencv" -DBUILD_LIST=core,imgproc,imgcodecs -DBUILD_SHARED_LIBS=OFF \
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DCPU_DISPATCH= -DOPENCV_GENERATE_PKGCONFIG=OFF \
    -DWITH_IPP=OFF -DWITH_ITT=OFF -DWITH_OPENCL=OFF -DWITH_TBB=OFF -DWITH_OPENMP=OFF -DWITH_TIFF=OFF \
    -DWITH_WEBP=OFF -DWITH_OPENEXR=OFF -DWITH_OPENJPEG=OFF -DWITH_JASPER=OFF -DWITH_GDAL=OFF -DWITH_GDCM=OFF \
    -DWITH_LAPACK=OFF -DWITH_EIGEN=OFF -DWITH_PROTOBUF=OFF -DWITH_FFMPEG=OFF -DWITH_GSTREAMER=OFF \
    -DWITH_V4L=OFF -DWITH_GTK=OFF -DWITH_QT=OFF -DWITH_VA=OFF -DWITH_VA_INTEL=OFF -DWITH_1394=OFF \
    -DWITH_CUDA=OFF -DWITH_OPENGL=OFF -DWITH_QUIRC=OFF -DWITH_ADE=OFF -DWITH_CAROTENE=OFF -DWITH_AVIF=OFF \
    -DWITH_VTK=OFF -DWITH_IMGCODEC_HDR=OFF -DWITH_IMGCODEC_SUNRASTER=OFF -DWITH_IMGCODEC_PFM=OFF \
    -DBUILD_TESTS=OFF -DBUILD_PERF_TESTS=OFF -DBUILD_EXAMPLES=OFF -DBUILD_DOCS=OFF -DBUILD_opencv_apps=OFF \
    -DBUILD_JAVA=OFF -DBUILD_opencv_python3=OFF -DBUILD_ZLIB=OFF -DBUILD_JPEG=OFF -DBUILD_PNG=OFF
  ninja -C "$work/opencv-build" install
else
  rm -rf "$DEPS/opencv" && cp -r "$OPENCV_PREFIX" "$DEPS/opencv"
fi
rm -rf "$DEPS/opencv/bin" "$DEPS/opencv/share"
cp -r /usr/include/eigen3/Eigen /usr/include/nlohmann "$DEPS/include/"
cp /usr/lib/x86_64-linux-gnu/{libjpeg.a,libpng16.a,libz.a} "$DEPS/lib/"
tar -cJf "$DEPS.tar.xz" -C "$(dirname "$DEPS")" "$(basename "$DEPS")"
echo "$DEPS and $DEPS.tar.xz: $(du -sh "$DEPS.tar.xz" | cut -f1)"
