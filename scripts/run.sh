#!/usr/bin/env bash
# The main job: installs, builds, makes the sample clip (a Debian dlib example photo under a moving
# synthetic camera, with its true landmark tracks) and runs the tracker on it, writing the landmarks CSV
# and the overlay video; then draws one LDDMM registration onto a real annotated face.
#   bash scripts/run.sh              the sample clip → out/sample_landmarks.csv, out/sample_overlay.mp4
#   bash scripts/run.sh --webcam [N] the desktop app on camera N (default 0): the live demo
#   bash scripts/run.sh --eval       also evaluates the shipped model on val.txt beside dlib's predictor
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
cli=./build/app/lddmm-face
if [ "${1:-}" = "--webcam" ]; then
  exec ./build/app/lddmm-face-gui "${2:-0}"
fi
"$cli" sample-clip -o out/sample.avi
"$cli" annotate out/sample.avi -o out/sample_landmarks.csv -o out/sample_landmarks.jsonl --overlay out/sample_overlay.mp4
data="${LDDMM_DATA:-../shared/data}/300w"
if [ -f "$data/val.txt" ]; then
  face="$data/$(head -n 1 "$data/val.txt")"
  "$cli" render --fit "${face%.*}.pts" --out out/flow.png --save-points out/fitted.pts
  if [ "${1:-}" = "--eval" ]; then
    "$cli" eval -m models/lddmm-300w68-256-detail.pt -d "$data" --boxes dlib --vs-dlib --csv out/val_faces.csv
  fi
else
  echo "run: no 300-W data at $data: flowing random momenta instead"
  "$cli" render --out out/flow.png --integrator rk4 --steps 8 --as wflw98
fi
echo "run: see out/sample_overlay.mp4, out/sample_landmarks.csv and .jsonl (true tracks: out/sample.truth.csv), out/flow.png"
