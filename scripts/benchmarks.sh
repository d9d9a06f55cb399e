#!/usr/bin/env bash
# Regenerates docs/benchmarks.md from the built programs (bash scripts/setup.sh first): the tracker on
# generated wide shots with known truth (ours beside dlib), the close-up clip, the confidence's ranking and
# the faces found in dlib's annotated photos. Takes about 15 minutes on a 2-core CPU.
#   bash scripts/benchmarks.sh            (../shared/data, or $LDDMM_DATA, for val.txt faces and the videos)
set -euo pipefail
cd "$(dirname "$0")/.."
cli=./build/app/lddmm-face
model=models/lddmm-300w68-256-detail.pt
data="${LDDMM_DATA:-../shared/data}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
val=()
[ -f "$data/300w/val.txt" ] && val=(--val "$data/300w")

clip() {  # name, then sample-clip's options
  local name="$1"
  shift
  "$cli" sample-clip "$@" -o "$work/$name.avi" >/dev/null
  "$cli" bench "$work/$name.avi" --truth "$work/$name.truth.csv" --json "$work/$name.json" >"$work/$name.txt"
}
clip wide720-3 --wide 1280x720 "${val[@]}" --faces 64 100 160 --seed 3
clip wide1080-3 --wide 1920x1080 "${val[@]}" --faces 64 100 160 --seed 3
clip wide720-6 --wide 1280x720 "${val[@]}"
clip wide1080-5 --wide 1920x1080 "${val[@]}" --faces 90 48 64 130 200 --seed 2
clip sample
video="$data/video/talking_d6.mp4"
if [ -f "$video" ]; then
  for k in 1 2 3; do "$cli" bench "$video" --no-dlib --json "$work/talking-$k.json" >/dev/null; done
  # What the close-up's time goes to: the same run without the confidence checks, without the scans, without both.
  "$cli" bench "$video" --no-dlib --check-every 0 --json "$work/closeup-1.json" >/dev/null
  "$cli" bench "$video" --no-dlib --scan-every 100000 --detect-every 100000 --json "$work/closeup-2.json" >/dev/null
  "$cli" bench "$video" --no-dlib --check-every 0 --scan-every 100000 --detect-every 100000 \
    --json "$work/closeup-3.json" >/dev/null
fi
[ -f "$data/300w/val.txt" ] && ./build/bench/bench_confidence "$model" "$data/300w" >"$work/confidence.txt"
./build/bench/bench_stills "$model" >"$work/stills.txt"
for t in 1 2; do
  ./build/bench/bench_flow --benchmark_filter=BlendedGrid --threads "$t" --benchmark_format=json >"$work/grid-$t.json"
done

python3 - "$work" >docs/benchmarks.md <<'PY'
import json, os, platform, subprocess, sys, datetime
work = sys.argv[1]
cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.machine())
print('# Benchmarks\n')
print(f'Measured {datetime.date.today()} on {os.cpu_count()} cores ({cpu}), CPU only, by `bash scripts/benchmarks.sh`;')
print('every number below comes from that script. Frames per second are end to end (decode, detect, align,')
print('smooth, two threads); they vary by about 10 % from run to run on this machine.\n')
print('## Wide shots with known truth\n')
print('`lddmm-face sample-clip --wide WxH` pastes annotated faces (val.txt\'s and dlib\'s example photos\', ones')
print('dlib\'s detector finds upright in their own photo) at known sizes into a moving scene: one face enters')
print('(1-2.5 s), one leaves (3-5 s), one turns to 60° in the image and back (1.5-4.5 s), the camera pans; 6 s at')
print('30 fps. Recall: true faces of at least 48 px found (landmark boxes overlapping by IoU > 0.3); false: track')
print('ids on no true face and the longest such run; entry: seconds from a face\'s first frame to its first')
print('landmarks (median / max). dlib rows: its 68-point predictor on the same policy, and the usual loop with')
print('the HOG detector on every full frame.\n')
names = {'wide720-3': '1280×720, 3 faces (64, 100, 160 px)', 'wide1080-3': '1920×1080, 3 faces (64, 100, 160 px)',
         'wide720-6': '1280×720, 6 faces (40-200 px)', 'wide1080-5': '1920×1080, 5 faces (48-200 px)',
         'sample': 'the sample clip (640×480, 3 faces of 90-110 px; its photo\'s reflections show faces without truth)'}
for name, title in names.items():
    rows = json.load(open(f'{work}/{name}.json'))
    print(f'### {title}\n')
    print('| pipeline | fps | p95 ms | recall % | false (longest s) | entry s | NME % | jitter % |')
    print('|---|---|---|---|---|---|---|---|')
    for r in rows:
        if 'raw' in r['pipeline'] or '+' in r['pipeline']:
            continue
        rec = f"{100 * r['recall']:.1f}" if 'recall' in r else '-'
        fal = f"{r['false_tracks']} ({r['longest_false_s']:.2f})" if 'false_tracks' in r else '-'
        ent = f"{r['entry_median_s']:.2f} / {r['entry_max_s']:.2f}" if 'entry_median_s' in r else '-'
        nme = f"{100 * r['nme']:.2f}" if 'nme' in r else '-'
        jit = f"{100 * r['jitter']:.3f}" if 'jitter' in r else '-'
        print(f"| {r['pipeline']} | {r['fps']:.1f} | {r['p95_ms']:.0f} | {rec} | {fal} | {ent} | {nme} | {jit} |")
    print()
runs = [json.load(open(f'{work}/{f}'))[0] for f in sorted(os.listdir(work)) if f.startswith('talking-')]
if runs:
    print('## Close-up: talking_d6.mp4 (480×480, one face, 1,008 frames)\n')
    print('| run | fps | p50 ms | p95 ms |\n|---|---|---|---|')
    for k, r in enumerate(runs, 1):
        print(f"| {k} | {r['fps']:.1f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} |")
    print()
    labels = ['no confidence checks (`--check-every 0`)',
              'no scans for new faces (`--scan-every 100000 --detect-every 100000`)', 'neither']
    parts = [f'{work}/closeup-{k}.json' for k in (1, 2, 3)]
    if all(os.path.exists(p) for p in parts):
        print('Where the time goes: the same clip without what finds new faces and drops lost ones (a face that')
        print('stays in the frame needs neither):\n')
        print('| run | fps | p50 ms | p95 ms |\n|---|---|---|---|')
        for label, p in zip(labels, parts):
            r = json.load(open(p))[0]
            print(f"| {label} | {r['fps']:.1f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} |")
        print()
if os.path.exists(f'{work}/confidence.txt'):
    print('## Confidence (`build/bench/bench_confidence`, val.txt)\n')
    print('The disagreement of a crop\'s two views (the crop and its mirror image) and the model\'s confidence head\'s')
    print('estimate against the face\'s NME, and faces against crops moved 1-1.5 face widths off them:\n')
    print('```\n' + open(f'{work}/confidence.txt').read().rstrip() + '\n```\n')
print('## The display grid (`build/bench/bench_flow --benchmark_filter=BlendedGrid`)\n')
print('One face\'s grid carried by the one continuous flow (docs/method.md), a 256-px crop, per grid density; the app')
print('uses one thread and computes it only while the grid is shown (default 16 cells).\n')
print('| cells | nodes | ms, 1 thread | ms, 2 threads |\n|---|---|---|---|')
grid = {t: json.load(open(f'{work}/grid-{t}.json'))['benchmarks'] for t in (1, 2)}
for a, b in zip(grid[1], grid[2]):
    print(f"| {a['name'].split('/')[1]} | {a['label'].split()[0]} | {a['real_time']:.2f} | {b['real_time']:.2f} |")
print()
print('## Faces in dlib\'s annotated photos (`build/bench/bench_stills`)\n')
print('Each photo on its own (`annotate --stills`) against dlib\'s HOG detector with one upsampling;')
print('(extra): found where no face is annotated (some are unannotated faces).\n')
print('```\n' + open(f'{work}/stills.txt').read().rstrip() + '\n```')
PY
echo "benchmarks: docs/benchmarks.md written"
