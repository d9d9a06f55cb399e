#!/usr/bin/env bash
# The main job: installs, builds, then registers the mean face onto a real annotated face (the first face
# of ../shared/data/300w/val.txt, or $LDDMM_DATA) by fitting LDDMM momenta, and draws the flow with its
# deformation grid to out/flow.png. Without the data it flows random momenta instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
data="${LDDMM_DATA:-../shared/data}/300w"
if [ -f "$data/val.txt" ]; then
  face="$data/$(head -n 1 "$data/val.txt")"
  ./build/app/lddmm-face render --fit "${face%.*}.pts" --out out/flow.png --save-points out/fitted.pts
  # The shipped model on the validation faces, beside dlib's predictor.
  ./build/app/lddmm-face eval -m models/lddmm-300w68-w18l-128.pt -d "$data" --vs-dlib --csv out/val_faces.csv
else
  echo "run: no 300-W data at $data: flowing random momenta instead"
  ./build/app/lddmm-face render --out out/flow.png --integrator rk4 --steps 8
fi
./build/app/lddmm-face render --out out/random_flow.png --integrator rk4 --steps 8 --as wflw98
echo "run: see out/flow.png and out/random_flow.png"
