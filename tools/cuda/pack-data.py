#!/usr/bin/env python3
"""Makes a smaller copy of a 300-W folder (train.txt, val.txt, images and .pts) for a machine that can only
receive a few tens of megabytes. Each image is reduced so that its landmark box is at most --box pixels
(ImageMagick's convert, box filter), its points scaled the same way (x -> f·x, as FaceDataset does when it
caches an image, core/train/dataset.cpp), and every image is written again at JPEG quality --quality.

--x-offset D (default 1.4) first moves every point D photo pixels left: 300-W's points sit about 1.4 px
right of what they mark (the offset the model card measures on val.txt; the CPU configs undo it on mirrored
crops with "mirror_x_offset": 1.4, a length in the photo's pixels that a reduced copy would scale). Packed
this way, a mirrored crop's labels agree with the direct ones' and the configs need no mirror_x_offset;
`calibrate` on the full-resolution val.txt puts the annotation's offset back (a calibrated teacher's landmarks
carry that offset, so with --teacher the target is off by about half of it, the same on both views; `calibrate`
removes it too). --x-offset 0 keeps the points.
Needs ImageMagick (apt-get install imagemagick).
Usage: pack-data.py SRC DST [--box 160] [--quality 90] [--x-offset 1.4]"""
import argparse
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor


def read_pts(path):
    with open(path) as f:
        lines = [l.strip() for l in f]
    start = lines.index("{") + 1
    end = lines.index("}")
    return [tuple(float(v) for v in l.split()) for l in lines[start:end]]


def write_pts(path, pts):
    with open(path, "w") as f:
        f.write("version: 1\nn_points:  %d\n{\n" % len(pts))
        for x, y in pts:
            f.write("%.4f %.4f\n" % (x, y))
        f.write("}\n")


def size_of(image):
    out = subprocess.run(["/usr/bin/convert", image, "-format", "%w %h", "info:"], check=True, capture_output=True, text=True)
    w, h = out.stdout.split()
    return int(w), int(h)


def pack_points(pts, f, x_offset):
    """The points of a photo reduced by f, with the annotation's x offset (photo pixels) removed first."""
    return [((x - x_offset) * f, y * f) for x, y in pts]


def pack(src, dst, name, box_max, quality, x_offset):
    image = os.path.join(src, name)
    pts_file = os.path.splitext(image)[0] + ".pts"
    pts = read_pts(pts_file)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    box = max(max(xs) - min(xs), max(ys) - min(ys))
    f = min(1.0, box_max / max(box, 1.0))
    out_image = os.path.join(dst, name)
    os.makedirs(os.path.dirname(out_image), exist_ok=True)
    out_pts = os.path.splitext(out_image)[0] + ".pts"
    if f >= 1.0:
        subprocess.run(["/usr/bin/convert", image, "-quality", str(quality), out_image], check=True)
        write_pts(out_pts, pack_points(pts, 1.0, x_offset))
        return
    w, h = size_of(image)
    nw, nh = max(1, round(w * f)), max(1, round(h * f))
    subprocess.run(["/usr/bin/convert", image, "-filter", "Box", "-resize", "%dx%d!" % (nw, nh), "-quality",
                    str(quality), out_image], check=True)
    write_pts(out_pts, pack_points(pts, f, x_offset))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--box", type=float, default=160)
    ap.add_argument("--quality", type=int, default=90)
    ap.add_argument("--x-offset", type=float, default=1.4,
                    help="photo pixels the points sit right of their marks, removed before packing (0: keep)")
    a = ap.parse_args()
    names = []
    for lst in ("train.txt", "val.txt"):
        with open(os.path.join(a.src, lst)) as f:
            names += [l.strip() for l in f if l.strip()]
    os.makedirs(a.dst, exist_ok=True)
    for lst in ("train.txt", "val.txt"):
        shutil.copyfile(os.path.join(a.src, lst), os.path.join(a.dst, lst))
    with ThreadPoolExecutor(os.cpu_count() or 2) as ex:
        list(ex.map(lambda n: pack(a.src, a.dst, n, a.box, a.quality, a.x_offset), names))
    print("packed %d faces into %s" % (len(names), a.dst))


if __name__ == "__main__":
    sys.exit(main())
