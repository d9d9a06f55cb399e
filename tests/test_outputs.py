#!/usr/bin/env python3
"""annotate's research outputs, read as a user's tools read them.

Usage: test_outputs.py LDDMM_FACE CLIP WORKDIR
- The CSV through Python's csv module: OpenFace 2.0's column names in OpenFace's order (the names are the
  contract, written out here from OpenFace's documentation), then x_i / y_i blocks, frames 1..N each with a
  row, numbers where success is 1.
- The JSON Lines file against the schema of docs/formats.md (written out here as Python), and the same
  landmarks as the CSV.
"""
import csv
import json
import math
import os
import subprocess
import sys

OPENFACE = ["frame", "face_id", "timestamp", "confidence", "success",
            "pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz"]


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def check_csv(path, frames):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
        header = rows[0].keys() if rows else []
    header = list(header)
    if header[:11] != OPENFACE:
        fail(f"first columns {header[:11]}")
    n = sum(1 for c in header if c.startswith("x_"))
    want = [f"x_{i}" for i in range(n)] + [f"y_{i}" for i in range(n)]
    if n != 68 or header[11:11 + 2 * n] != want:
        fail(f"point columns: {n} x_ columns")
    if header[11 + 2 * n:] != ["box_x", "box_y", "box_w", "box_h", "detector_score"]:
        fail(f"our columns {header[11 + 2 * n:]}")
    seen = sorted({int(r["frame"]) for r in rows})
    if seen != list(range(1, frames + 1)):
        fail(f"frames {seen[:5]}... (expected 1..{frames}, a row for each)")
    faces = [r for r in rows if r["success"] == "1"]
    for r in faces:
        vals = [float(r[c]) for c in OPENFACE + want]
        if not all(math.isfinite(v) for v in vals):
            fail(f"a non-finite number in frame {r['frame']}")
        if not float(r["pose_Tz"]) > 0:
            fail("the head is behind the camera")
    return faces


def expect(cond, what):
    if not cond:
        fail(what)


def check_header(h):
    expect(h.get("type") == "header" and h.get("format") == "lddmm-face-landmarks", "header record")
    expect(isinstance(h.get("format_version"), int), "format_version")
    expect(h["program"]["name"] == "lddmm-face" and isinstance(h["program"]["version"], str), "program")
    for m in h["models"]:
        expect(os.path.isfile(m["file"]) and len(m["sha256"]) == 64, "models[]")
    s = h["scheme"]
    expect(isinstance(s["id"], str) and s["points"] == len(s["point_names"]), "scheme points and names")
    for c in s["curves"]:
        expect(isinstance(c["name"], str) and isinstance(c["closed"], bool), "curve")
        expect(all(0 <= i < s["points"] for i in c["points"]), "curve indices")
    i = h["input"]
    expect(isinstance(i["path"], str) and i["fps"] > 0 and isinstance(i["frames"], int), "input")
    expect(i["width"] > 0 and i["height"] > 0, "input size")
    expect("camera" in h["pose"], "pose camera")
    return s["points"]


def check_face(face, points):
    expect(isinstance(face["face_id"], int) and face["face_id"] >= 1, "face_id")
    expect(0 <= face["confidence"] <= 1, "confidence")
    expect(len(face["box"]) == 4 and isinstance(face["detector_score"], (int, float)), "box, detector_score")
    expect(len(face["points"]) == points and all(len(p) == 2 for p in face["points"]), "points")
    p = face["pose"]
    expect(len(p["translation"]) == 3 and len(p["rotation"]) == 3 and len(p["euler"]) == 3, "pose")


def check_jsonl(path):
    lines = open(path).read().splitlines()
    records = [json.loads(line) for line in lines]  # every line a whole JSON value
    points = check_header(records[0])
    frames = [r for r in records[1:-1]]
    end = records[-1]
    expect(all(r["type"] == "frame" for r in frames), "frame records between header and end")
    expect([r["frame"] for r in frames] == list(range(1, len(frames) + 1)), "frames 1..N in order")
    expect(all(isinstance(r["timestamp"], (int, float)) for r in frames), "timestamps")
    for r in frames:
        for face in r["faces"]:
            check_face(face, points)
    expect(end == {"type": "end", "complete": True, "frames": len(frames)}, f"end record {end}")
    return frames


def main():
    cli, clip, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    csv_path, jsonl_path = os.path.join(work, "o.csv"), os.path.join(work, "o.jsonl")
    subprocess.run([cli, "annotate", clip, "-o", csv_path, "-o", jsonl_path, "-q"], check=True,
                   stdout=subprocess.DEVNULL)
    frames = check_jsonl(jsonl_path)
    faces = check_csv(csv_path, len(frames))
    from_jsonl = {(r["frame"], f["face_id"]): f for r in frames for f in r["faces"]}
    expect(len(faces) == len(from_jsonl), "the CSV and the JSON Lines list the same faces")
    for r in faces:
        f = from_jsonl[(int(r["frame"]), int(r["face_id"]))]
        expect(abs(float(r["x_30"]) - f["points"][30][0]) < 2e-3, "the same points")
        expect(abs(float(r["pose_Ry"]) - f["pose"]["euler"][1]) < 1e-4, "the same pose")
    print(f"OpenFace columns, {len(frames)} frames, {len(faces)} faces; the JSON Lines file matches its schema")


main()
