#!/usr/bin/env python3
"""A corpus run as a user meets it: killed with SIGKILL half-way, run again, damaged and junk files, an
output folder that cannot be made, a disk that fills up (a 96 KiB tmpfs, when this runs as root).

Usage: test_corpus_cli.py LDDMM_FACE WORKDIR
Checks: a file under its final name is always whole (its JSON Lines file ends with a complete end record,
its CSV has a row for every frame); the second run does only what the first did not finish; every video
has one manifest row with the right status; errors are one line.
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import time


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def make_corpus(cli, root):
    shutil.rmtree(root, ignore_errors=True)
    for name in ["a.avi", "day2/b.avi", "day2/c.avi"]:
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        subprocess.run([cli, "sample-clip", "-o", path, "--frames", "45", "--size", "320",
                        "--truth", path + ".truth.csv"], check=True, stdout=subprocess.DEVNULL)
    open(os.path.join(root, "junk.mp4"), "w").write("not a video")
    open(os.path.join(root, "notes.txt"), "w").write("not in the corpus")
    return ["a.avi", "day2/b.avi", "day2/c.avi", "junk.mp4"]


def whole(out, video):
    """The video's final files, or None; fails if a final file is not whole."""
    stem = os.path.join(out, os.path.splitext(video)[0])
    if not os.path.exists(stem + ".jsonl"):
        return None
    lines = open(stem + ".jsonl").read().splitlines()
    end = json.loads(lines[-1])
    if end != {"type": "end", "complete": True, "frames": len(lines) - 2}:
        fail(f"{video}: its final .jsonl is not whole ({end})")
    with open(stem + ".csv", newline="") as f:
        frames = {row["frame"] for row in csv.DictReader(f)}
    if len(frames) != end["frames"]:
        fail(f"{video}: its final .csv has {len(frames)} frames, the .jsonl {end['frames']}")
    return end["frames"]


def manifest(out):
    with open(os.path.join(out, "manifest.csv"), newline="") as f:
        return {r["video"]: r for r in csv.DictReader(f)}


def killed_and_resumed(cli, corpus, videos, out):
    shutil.rmtree(out, ignore_errors=True)
    p = subprocess.Popen([cli, "annotate", corpus, "-o", out, "-q"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not os.path.exists(os.path.join(out, "a.jsonl")):
        time.sleep(0.05)
    time.sleep(0.3)
    p.kill()  # SIGKILL: nothing of ours runs
    p.wait()
    done_before = [v for v in videos if whole(out, v) is not None]
    r = subprocess.run([cli, "annotate", corpus, "-o", out], capture_output=True, text=True)
    if r.returncode != 1 or not r.stderr.endswith("lddmm-face: error: 1 of 4 videos failed (see the manifest)\n"):
        fail(f"second run: exit {r.returncode}, {r.stderr!r}")
    redone = [v for v in videos if f") {v}: " in r.stderr]
    if set(redone) & set(done_before) or set(redone) | set(done_before) != set(videos):
        fail(f"done before the kill {done_before}, done again {redone}")
    rows = manifest(out)
    for v in videos:
        want = "failed" if v == "junk.mp4" else "done"
        if rows[v]["status"] != want or (want == "done" and int(rows[v]["frames"]) != whole(out, v)):
            fail(f"manifest row {rows[v]}")
    if "cannot open the video" not in rows["junk.mp4"]["error"]:
        fail(f"junk.mp4's error: {rows['junk.mp4']['error']}")
    print(f"killed with {len(done_before)} video(s) done; the second run did the other {len(redone)}")


def bad_output_folder(cli, corpus, work):
    blocker = os.path.join(work, "a-file")
    open(blocker, "w").write("x")
    r = subprocess.run([cli, "annotate", corpus, "-o", os.path.join(blocker, "out")], capture_output=True, text=True)
    if r.returncode != 1 or r.stderr.count("\n") != 1 or "cannot create the output folder" not in r.stderr:
        fail(f"an output folder under a file: exit {r.returncode}, {r.stderr!r}")
    print("an output folder that cannot be made: one line, exit 1")


def disk_full(cli, corpus, work, videos):
    mnt = os.path.join(work, "small")
    os.makedirs(mnt, exist_ok=True)
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", mnt],
                                           stderr=subprocess.DEVNULL).returncode != 0:
        print("disk full: skipped (needs root and mount)")
        return
    try:
        r = subprocess.run([cli, "annotate", corpus, "-o", mnt, "-q"], capture_output=True, text=True)
        if r.returncode == 0:
            fail("a full disk gave exit 0")
        for v in videos:
            whole(mnt, v)  # every final file is whole
        print(f"disk full: exit {r.returncode}, {r.stderr.strip().splitlines()[-1]}; no final file is short")
    finally:
        subprocess.run(["umount", mnt])


def main():
    cli, work = sys.argv[1:3]
    os.makedirs(work, exist_ok=True)
    corpus = os.path.join(work, "corpus")
    videos = make_corpus(cli, corpus)
    killed_and_resumed(cli, corpus, videos, os.path.join(work, "out"))
    bad_output_folder(cli, corpus, work)
    disk_full(cli, corpus, work, videos)
    print("corpus: resumable, damaged videos recorded, outputs never half-finished under their final names")


main()
