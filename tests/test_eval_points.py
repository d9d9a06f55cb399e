"""eval --points: the exported points are the ones eval scored. From the points file and the faces' .pts
files alone, this recomputes every face's NME (mean point distance over the outer-eye-corner distance) and
mean signed offset, ours and dlib's, and compares them with eval's per-face CSV.
usage: python3 test_eval_points.py LDDMM_FACE TMP_DIR DEFAULT_DATA MODEL
Exits 77 (skipped) when the data folder is absent."""
import csv
import math
import os
import subprocess
import sys

cli, tmp, default_data, model = sys.argv[1:5]
data = os.path.join(os.environ.get("LDDMM_DATA", default_data), "300w")
faces = ["afw/134212_1.jpg", "lfpw_train/image_0003.jpg", "helen_train/100032540_1.jpg"]
if not all(os.path.isfile(os.path.join(data, f)) for f in faces):
    print("SKIP: no ../shared/data (set LDDMM_DATA)")
    sys.exit(77)
os.makedirs(tmp, exist_ok=True)
listing = os.path.join(tmp, "points.txt")
with open(listing, "w") as f:
    f.write("\n".join(faces) + "\n")
per_face, points = os.path.join(tmp, "points_faces.csv"), os.path.join(tmp, "points.csv")
subprocess.run([cli, "eval", "-m", model, "-d", data, "-l", listing, "--boxes", "dlib", "--vs-dlib", "--threads",
                "2", "--csv", per_face, "--points", points], check=True, stdout=subprocess.DEVNULL)


def read_pts(name):
    with open(os.path.join(data, os.path.splitext(name)[0] + ".pts")) as f:
        text = f.read()
    values = [float(v) for v in text[text.index("{") + 1:text.index("}")].split()]
    return list(zip(values[0::2], values[1::2]))


rows = {r["face"]: r for r in csv.DictReader(open(per_face))}
exported = {}
with open(points) as f:
    reader = csv.reader(f)
    header = next(reader)
    assert header[:4] == ["face", "by", "x0", "y0"] and header[-1] == "y67", header[:4]
    for r in reader:
        values = [float(v) for v in r[2:]]
        exported[(r[0], r[1])] = list(zip(values[0::2], values[1::2]))
assert len(exported) == 2 * len(faces), sorted(exported)
failures = []
for name in faces:
    truth = read_pts(name)
    d = math.dist(truth[36], truth[45])
    for by, nme_col, dx_col, dy_col in (("ours", "nme", "dx", "dy"), ("dlib", "dlib_nme", "dlib_dx", "dlib_dy")):
        p = exported[(name, by)]
        assert len(p) == 68, (name, by, len(p))
        nme = sum(math.dist(a, b) for a, b in zip(p, truth)) / 68 / d
        dx = sum(a[0] - b[0] for a, b in zip(p, truth)) / 68
        dy = sum(a[1] - b[1] for a, b in zip(p, truth)) / 68
        want = rows[name]
        for what, got, expected, tol in (("NME", nme, float(want[nme_col]), 1e-4 * float(want[nme_col])),
                                         ("dx", dx, float(want[dx_col]), 2e-3), ("dy", dy, float(want[dy_col]), 2e-3)):
            if abs(got - expected) > tol:
                failures.append(f"{name} {by} {what}: {got:.6f} from the points, {expected:.6f} in the CSV")
        print(f"{name} {by}: NME {100 * nme:.3f} %, offset ({dx:+.3f}, {dy:+.3f}) px")
if failures:
    print("\n".join(failures))
    sys.exit(1)
print(f"{len(faces)} faces, ours and dlib: the exported points give eval's NME and offsets")
