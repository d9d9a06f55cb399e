#!/bin/bash
# Submit the annotation of a video corpus to Slurm: a job array of TASKS shards, then a merge job.
# Usage:  scripts/slurm/submit.sh CORPUS OUT [TASKS]       (TASKS: array size, default 4)
# Slurm:  SBATCH_OPTS="--partition=gpu --time=4:00:00" scripts/slurm/submit.sh ...  (both jobs; split at spaces)
# Binary: LDDMM_FACE=/path/to/lddmm-face (default: lddmm-face from PATH on the compute nodes).
# Logs:   OUT/slurm-<array job>_<task>.out and OUT/slurm-<merge job>-merge.out
# Result: OUT/manifest.csv, one row per video (done, failed, interrupted or missing); resubmit to finish.
# Prints: the array job id and the merge job id, one a line.
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: $0 CORPUS OUT [TASKS]" >&2
  exit 2
fi
tasks=${3:-4}
case $tasks in '' | *[!0-9]* | 0*) echo "$0: TASKS must be a positive number, not \"$tasks\"" >&2; exit 2 ;; esac
[ -e "$1" ] || { echo "$0: $1: no such corpus folder or list" >&2; exit 2; }
mkdir -p "$2"
# Absolute paths: the jobs may start in another directory.
corpus=$(realpath -- "$1")
out=$(realpath -- "$2")
here=$(dirname -- "$(realpath -- "$0")")
case ${LDDMM_FACE:-} in */*) LDDMM_FACE=$(realpath -- "$LDDMM_FACE") && export LDDMM_FACE ;; esac
read -ra opts <<< "${SBATCH_OPTS:-}"

array=$(CORPUS=$corpus OUT=$out sbatch --parsable "${opts[@]}" --export=ALL --array="1-$tasks" \
          --output="$out/slurm-%A_%a.out" "$here/annotate-array.sbatch")
array=${array%%;*}  # --parsable prints "id" or "id;cluster"
echo "$array"
# afterany: merge runs even when a task failed, so the manifest says which videos are not done.
# shellcheck disable=SC2016  # expanded by the merge job's shell, from its environment
merge=$(CORPUS=$corpus OUT=$out sbatch --parsable "${opts[@]}" --export=ALL --job-name=lddmm-merge \
          --dependency="afterany:$array" --output="$out/slurm-%j-merge.out" \
          --wrap='"${LDDMM_FACE:-lddmm-face}" merge "$CORPUS" -o "$OUT"')
echo "${merge%%;*}"
