#!/bin/bash
# Annotates a corpus through scripts/slurm/submit.sh on a throwaway one-node Slurm cluster (Debian's slurmctld,
# slurmd and munge, all state in a temporary folder) and checks that every video was annotated exactly once.
# Usage: tests/slurm/cluster_test.sh LDDMM_FACE_BINARY [CORPUS_DIR]
#   CORPUS_DIR: a folder of short videos; when omitted or holding none, 3 clips are made there with sample-clip.
#   SLURM_TEST_TASKS: array size (default 4: one task gets no video);
#   SLURM_TEST_TIMEOUT: seconds to wait for the jobs (default 600);
#   SLURM_TEST_KEEP=1 keeps the temporary folder (configuration, daemon logs, outputs) for a look.
# Needs root and: apt-get install --no-install-recommends slurmctld slurmd slurm-client munge
# Exit: 0 passed, 1 failed, 77 skipped (no packages, not root, or the cluster did not come up).
set -euo pipefail

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; failed=1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

if [ $# -lt 1 ] || [ $# -gt 2 ]; then echo "usage: $0 LDDMM_FACE_BINARY [CORPUS_DIR]" >&2; exit 2; fi
bin=$(realpath -- "$1")
[ -x "$bin" ] || { echo "$0: $1: not an executable" >&2; exit 2; }
here=$(dirname -- "$(realpath -- "$0")")
submit=$here/../../scripts/slurm/submit.sh
tasks=${SLURM_TEST_TASKS:-4}
job_timeout=${SLURM_TEST_TIMEOUT:-600}
start=$(now)

for cmd in munged munge slurmctld slurmd sbatch squeue sinfo scontrol scancel; do
  command -v "$cmd" >/dev/null || skip "$cmd not found (apt-get install slurmctld slurmd slurm-client munge)"
done
[ "$(id -u)" -eq 0 ] || skip "the test cluster runs its daemons as root"

base=${TMPDIR:-/tmp}
[ ${#base} -le 60 ] || base=/tmp  # a socket's path has at most 107 bytes
tmp=$(mktemp -d "$base/lddmm-slurm.XXXXXX")
chmod 755 "$tmp"  # munged wants its socket's folder searchable by all and writable by none but its owner
pids=() jobs=() failed=0
alive() { local st=; read -r _ _ st _ 2>/dev/null <"/proc/$1/stat"; [ -n "$st" ] && [ "$st" != Z ]; }
stop() {  # a daemon we started: SIGTERM, SIGKILL after 10 s
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 100); do alive "$1" || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}
cleanup() {
  set +e
  if [ ${#jobs[@]} -gt 0 ]; then
    # Jobs end while slurmctld still runs, or their slurmstepd (and slurmd) wait for it forever.
    scancel "${jobs[@]}" 2>/dev/null
    for _ in $(seq 30); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.5; done
  fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop "${pids[$i]}"; done  # slurmd, slurmctld, munged
  if [ -n "${SLURM_TEST_KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# munged with its own key and socket. Without -F it forks, so it runs in the foreground in the background.
if command -v mungekey >/dev/null; then mungekey -c -k "$tmp/munge.key"
else dd if=/dev/urandom of="$tmp/munge.key" bs=1 count=1024 status=none; fi
chmod 400 "$tmp/munge.key"
munged -F --key-file="$tmp/munge.key" --socket="$tmp/munge.socket" --pid-file="$tmp/munged.pid" \
  --seed-file="$tmp/munged.seed" --log-file="$tmp/munged.log" >"$tmp/munged.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$tmp/munge.socket" ] && break; sleep 0.1; done
munge -n -S "$tmp/munge.socket" 2>/dev/null | unmunge -S "$tmp/munge.socket" >/dev/null 2>&1 ||
  skip "munged did not start: $(tail -n 1 "$tmp/munged.out")"

# Two free ports for slurmctld and slurmd (nothing answers on them).
port=$((20000 + RANDOM % 30000))
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || (exec 3<>"/dev/tcp/127.0.0.1/$((port + 1))") 2>/dev/null; do
  port=$((port + 2))
done
node=$(hostname -s)
mem=$(awk '/^MemTotal:/ { print int($2 / 1024 * 0.9) }' /proc/meminfo)
mkdir -p "$tmp/state" "$tmp/spool"
# No cgroups (containers rarely allow them): linuxproc tracks the job's processes, no task plugin, no accounting.
cat >"$tmp/slurm.conf" <<EOF
ClusterName=lddmmtest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge.socket
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MailProg=/bin/true
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$tmp/slurm.conf
cluster_start=$(now)
slurmctld -D -f "$SLURM_CONF" >"$tmp/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N "$node" >"$tmp/slurmd.out" 2>&1 &
pids+=($!)
state=
for _ in $(seq 60); do
  state=$(sinfo -h -n "$node" -o %t 2>/dev/null || true)
  [ "$state" = idle ] && break
  if ! alive "${pids[1]}" || ! alive "${pids[2]}"; then break; fi  # slurmctld or slurmd gave up
  sleep 0.5
done
if [ "$state" != idle ]; then
  tail -n 5 "$tmp/slurmctld.out" "$tmp/slurmd.out" >&2
  skip "node $node is \"${state:-unknown}\", not idle, after starting slurmctld and slurmd (30 s at most)"
fi
echo "cluster up in $(since "$cluster_start") s: node $node, $(nproc) CPUs, ports $port-$((port + 1))"

# The corpus: made here when there are no videos in it.
videos() { (cd "$corpus" && find . -type f \( -name '*.mp4' -o -name '*.avi' -o -name '*.mkv' -o -name '*.mov' \
  -o -name '*.webm' \) | sed 's|^\./||' | LC_ALL=C sort); }
corpus=${2:-$tmp/corpus}
mkdir -p "$corpus"
corpus=$(realpath -- "$corpus")
if [ -z "$(videos)" ]; then
  mkdir -p "$corpus/b"
  for v in a b/c d; do
    "$bin" sample-clip -o "$corpus/$v.mp4" --frames 20 --size 320 --truth "$tmp/truth.csv" >/dev/null ||
      { echo "FAIL: $1 sample-clip could not make $corpus/$v.mp4"; exit 1; }
  done
fi
mapfile -t all < <(videos)
echo "corpus $corpus: ${#all[@]} videos, $tasks tasks"

# Submit (the logs go to OUT) and wait until both jobs have left the queue.
out=$tmp/out
jobs_start=$(now)
mapfile -t jobs < <(cd "$tmp" && LDDMM_FACE=$bin "$submit" "$corpus" "$out" "$tasks")
[ ${#jobs[@]} -eq 2 ] || { echo "FAIL: submit.sh printed ${#jobs[@]} job ids, not 2"; exit 1; }
deadline=$((SECONDS + job_timeout))
while [ -n "$(squeue -h -j "${jobs[0]},${jobs[1]}" -o %i)" ]; do
  [ $SECONDS -lt $deadline ] || { echo "FAIL: jobs ${jobs[*]} still queued after $job_timeout s"; squeue; exit 1; }
  sleep 1
done
echo "array job ${jobs[0]} and merge job ${jobs[1]} ended in $(since "$jobs_start") s"

# Every job ended COMPLETED (exit status 0).
states=$(scontrol -o show job "${jobs[0]}"; scontrol -o show job "${jobs[1]}") || true
[ "$(grep -o 'JobState=[A-Z_]*' <<<"$states" | sort -u)" = JobState=COMPLETED ] ||
  fail "not every job COMPLETED: $(sed -E 's/^JobId=([0-9]+) .*JobState=([A-Z_]+) .*ExitCode=([0-9:]+).*/job \1 \2 exit \3;/' <<<"$states" | tr '\n' ' ')"

# Every video has its CSV and JSONL; shard K has the videos i with i % N == K-1, each once, all done.
for i in "${!all[@]}"; do
  v=${all[$i]}
  for ext in csv jsonl; do [ -s "$out/${v%.*}.$ext" ] || fail "$v: no ${v%.*}.$ext in $out"; done
done
for k in $(seq "$tasks"); do
  m=$out/manifest-$k-of-$tasks.csv
  [ -f "$m" ] || { fail "no $(basename "$m")"; continue; }
  want=$(for i in "${!all[@]}"; do [ $((i % tasks)) -ne $((k - 1)) ] || echo "${all[$i]},done"; done)
  got=$(tail -n +2 "$m" | cut -d, -f1,2 | LC_ALL=C sort)
  [ "$got" = "$want" ] || fail "$(basename "$m") has [$(echo "$got" | tr '\n' ' ')], wants [$(echo "$want" | tr '\n' ' ')]"
done
extra=$(cd "$out" && find . -maxdepth 1 -name 'manifest-*-of-*.csv' ! -name "manifest-*-of-$tasks.csv")
[ -z "$extra" ] || fail "manifests of another array size: $extra"
want=$(printf '%s,done\n' "${all[@]}")
got=$(tail -n +2 "$out/manifest.csv" 2>/dev/null | cut -d, -f1,2 | LC_ALL=C sort)
[ "$got" = "$want" ] || fail "manifest.csv has [$(echo "$got" | tr '\n' ' ')], wants [$(echo "$want" | tr '\n' ' ')]"

if [ $failed -ne 0 ]; then
  for f in "$out"/slurm-*.out; do [ -e "$f" ] && { echo "--- $(basename "$f")"; tail -n 20 "$f"; }; done
  echo "--- slurmd.log"; tail -n 20 "$tmp/slurmd.log"
  exit 1
fi
echo "PASS: ${#all[@]} videos annotated once each by $tasks array tasks and merged; total $(since "$start") s"
