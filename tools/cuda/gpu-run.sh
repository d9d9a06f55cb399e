#!/usr/bin/env bash
# One GPU session, run from the repository root on a machine with a CUDA LibTorch (the Python torch
# package) and, beside the checkout, what tools/cuda/deps.sh and tools/cuda/pack-data.py made:
#   .cuda-deps.tar.xz   the static OpenCV and the headers
#   .cuda-data/         the 300-W folder (reduced copy)
# It builds lddmm-cuda, checks CUDA against a CPU float64 reference, times the forward pass, trains the
# configurations named in CONFIGS (configs/NAME.json, else experiments/configs/NAME.json) side by side for
# MINUTES each (from INIT, unless it is "none", or the start INITS names for that config; a config whose name
# holds "distill" also gets TEACHER), and evaluates each run's averaged weights, one pass and mirrored.
# Results go to RESULTS (default $OUT, else results-cuda/): ema-NAME.pt, logs.tar.gz.
set -uo pipefail
RESULTS=${RESULTS:-${OUT:-results-cuda}}
MINUTES=${MINUTES:-5}
DEADLINE=${DEADLINE:-0}  # seconds for the whole script: when set, the training gets what the build leaves
INIT=${INIT:-models/lddmm-300w68-256-detail.pt}
TEACHER=${TEACHER:-models/lddmm-300w68-256-detail.pt}
INITS=${INITS:-}  # per-config starts overriding INIT: "CONFIG=FILE CONFIG=FILE"
CONFIGS=${CONFIGS:-"gpu-w18l-192 gpu-w18l-192-distill gpu-w18l-192-lr1e3"}  # SKIP_CHECKS=1: no check, bench
BENCH=${BENCH:-"models/lddmm-300w68-256-detail.pt experiments/configs/gpu-w18l-192.json experiments/configs/gpu-w18-256.json"}
work=/tmp/lddmm-cuda
mkdir -p "$RESULTS" "$work/logs"
log=$work/logs/session.log
exec > >(tee "$log") 2>&1
t0=$(date +%s)
stamp() { echo "[$(($(date +%s) - t0)) s] $*"; }
finish() {
  tar -czf "$RESULTS/logs.tar.gz" -C "$work" logs
  stamp "done"
}
trap finish EXIT

stamp "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
nproc
python3 -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, "cxx11 abi", torch._C._GLIBCXX_USE_CXX11_ABI)'
tar -xJf .cuda-deps.tar.xz -C "$work"
stamp "build"
DEPS=$work/.cuda-deps OUT_BIN=$work/bin/lddmm-cuda bash tools/cuda/build.sh > "$work/logs/build.log" 2>&1
rc=$?
tail -c 6000 "$work/logs/build.log"
[ $rc -eq 0 ] || exit 1
bin=$work/bin/lddmm-cuda
if [ -z "${SKIP_CHECKS:-}" ]; then
  stamp "check"
  $bin check "$TEACHER" | tee "$work/logs/check.txt"
  stamp "bench"
  # shellcheck disable=SC2086
  $bin bench $BENCH | tee "$work/logs/bench.txt"
fi
tlimit=$((${MINUTES%.*} * 60 + 120))
if [ "$DEADLINE" -gt 0 ]; then
  left=$((DEADLINE - $(date +%s) + t0))
  MINUTES=$(awk "BEGIN { m = ($left - 110) / 60; print (m < 0.5 ? 0.5 : m) }")
  tlimit=$((left - 50))
fi
stamp "train: $CONFIGS, $MINUTES min each"
pids=()
for c in $CONFIGS; do
  extra=()
  start=$INIT
  for pair in $INITS; do [ "${pair%%=*}" = "$c" ] && start=${pair#*=}; done
  [ "$start" != none ] && extra+=(--init "$start")
  case $c in *distill*) extra+=(--teacher "$TEACHER") ;; esac
  cfg=configs/$c.json
  [ -f "$cfg" ] || cfg=experiments/configs/$c.json
  timeout "$tlimit" "$bin" train "$cfg" .cuda-data "$work/runs/$c" \
    --minutes "$MINUTES" "${extra[@]}" > "$work/logs/train-$c.log" 2> >(tr '\r' '\n' | tail -n 20 > "$work/logs/train-$c.err") &
  pids+=($!)
done
wait "${pids[@]}"
stamp "evaluate"
for c in $CONFIGS; do
  cp "$work/runs/$c/log.csv" "$work/logs/$c.log.csv" 2>/dev/null
  if [ -f "$work/runs/$c/ema.pt" ]; then
    cp "$work/runs/$c/ema.pt" "$RESULTS/ema-$c.pt"
    $bin eval "$work/runs/$c/ema.pt" .cuda-data | tee -a "$work/logs/eval.txt"
    $bin eval "$work/runs/$c/ema.pt" .cuda-data --flip | tee -a "$work/logs/eval.txt"
  fi
  tail -n 3 "$work/logs/train-$c.log"
done
