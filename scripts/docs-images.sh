#!/usr/bin/env bash
# Remakes the images in docs/ from the build: the app's window on the sample clip (docs/screenshot.jpg, under
# Xvfb) and a strip of the flow t = 0, 1/4, 1/2, 3/4, 1 on one of dlib's example photos (docs/flow-strip.jpg).
# Needs build/ (scripts/run.sh or scripts/test.sh), xvfb-run and Debian's dlib example photos.
set -euo pipefail
cd "$(dirname "$0")/.."
cli=build/app/lddmm-face
gui=build/app/lddmm-face-gui
photo=/usr/share/doc/libdlib19.1/examples/faces/Tom_Cruise_avp_2014_4.jpg
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$cli" sample-clip -o "$tmp/clip.avi" --frames 40 >/dev/null
XDG_RUNTIME_DIR="$tmp" QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1280x1024x24" \
  "$gui" "$tmp/clip.avi" --scheme wflw98 --frames 20 --screenshot docs/screenshot.jpg
echo "wrote docs/screenshot.jpg"

"$cli" annotate "$photo" -f pts -o "$tmp/pts" -q
"$cli" render --fit "$tmp/pts/$(basename "$photo" .jpg)_face_1.pts" --image "$photo" --grid 16 -o "$tmp/fit.png" \
  --animate docs/flow-strip.jpg --animate-size 300
