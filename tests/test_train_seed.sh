#!/bin/sh
# train is deterministic with a seed: two one-epoch runs (one thread) of a tiny network on four faces
# with --seed 5 log the same losses, a run with --seed 6 logs others (its augmentation and initial
# weights differ).
# usage: test_train_seed.sh LDDMM_FACE TMP_DIR DEFAULT_DATA
cli=$1 tmp=$2/train_seed
d=${LDDMM_DATA:-$3}/300w
if [ ! -f "$d/train.txt" ]; then echo 'SKIP: no ../shared/data (set LDDMM_DATA)'; exit 77; fi
rm -rf "$tmp" && mkdir -p "$tmp" || exit 1
head -4 "$d/train.txt" > "$tmp/four.txt" && tail -2 "$d/val.txt" > "$tmp/two.txt" || exit 1
cat > "$tmp/tiny.json" <<'JSON'
{"model": {"backbone": {"width": 4, "modules": [1, 1, 1], "blocks": 1, "stem_blocks": 1, "stem_width": 8},
           "input_size": 64},
 "train": {"epochs": 1, "batch_size": 2, "learning_rate": 0.001, "warmup_epochs": 1, "seed": 1}}
JSON
for run in a:5 b:5 c:6; do
  name=${run%:*} seed=${run#*:}
  "$cli" train -c "$tmp/tiny.json" -d "$d" -l "$tmp/four.txt" --val "$tmp/two.txt" --seed "$seed" --threads 1 \
    -o "$tmp/$name" > "$tmp/$name.log" 2>&1 || { echo "run $name failed:"; tail -3 "$tmp/$name.log"; exit 1; }
  grep -q "threads, CPU, seed $seed\|threads, CUDA, seed $seed" "$tmp/$name.log" || { echo "run $name: no 'seed $seed' line"; exit 1; }
  cut -d, -f3,4 "$tmp/$name/log.csv" > "$tmp/$name.loss"
done
cmp -s "$tmp/a.loss" "$tmp/b.loss" || { echo "same seed, different losses:"; paste "$tmp/a.loss" "$tmp/b.loss"; exit 1; }
cmp -s "$tmp/a.loss" "$tmp/c.loss" && { echo "seeds 5 and 6 gave the same losses"; exit 1; }
echo "seed 5 twice: same losses ($(tail -1 "$tmp/a.loss")); seed 6: $(tail -1 "$tmp/c.loss")"
