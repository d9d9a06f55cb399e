"""tools/cuda/pack-data.py's points: packed labels of a photo and of its mirror image must be mirror images of
each other in the reduced photo (what the trainer's flip assumes with no mirror_x_offset), whatever the
reduction. Run by CTest: python3 tests/test_pack_data.py."""
import importlib.util
import os
import random
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("pack_data", os.path.join(HERE, "..", "tools", "cuda", "pack-data.py"))
pack_data = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pack_data)


class PackPoints(unittest.TestCase):
    def setUp(self):
        rng = random.Random(7)
        self.width = 640.0
        self.marks = [(rng.uniform(50, 590), rng.uniform(50, 430)) for _ in range(68)]

    def labels(self, marks, delta):
        # The annotation convention: every label sits delta photo pixels right of its mark.
        return [(x + delta, y) for x, y in marks]

    def test_mirror_consistent_after_removing_the_offset(self):
        delta = 1.4
        mirrored_marks = [(self.width - x, y) for x, y in self.marks]
        for f in (1.0, 0.5, 0.23):
            direct = pack_data.pack_points(self.labels(self.marks, delta), f, delta)
            mirrored = pack_data.pack_points(self.labels(mirrored_marks, delta), f, delta)
            for (x, y), (xm, ym) in zip(direct, mirrored):
                self.assertAlmostEqual(f * self.width - x, xm, places=9)
                self.assertAlmostEqual(y, ym, places=9)

    def test_keeping_the_offset_is_not_mirror_consistent(self):
        # The test above can fail: with the offset kept, the mirror image is 2·f·delta off.
        delta, f = 1.4, 0.5
        mirrored_marks = [(self.width - x, y) for x, y in self.marks]
        direct = pack_data.pack_points(self.labels(self.marks, delta), f, 0.0)
        mirrored = pack_data.pack_points(self.labels(mirrored_marks, delta), f, 0.0)
        for (x, _), (xm, _) in zip(direct, mirrored):
            self.assertAlmostEqual(xm - (f * self.width - x), 2 * f * delta, places=9)

    def test_scaling(self):
        self.assertEqual(pack_data.pack_points([(11.4, 20.0)], 0.5, 1.4), [(5.0, 10.0)])


if __name__ == "__main__":
    unittest.main()
