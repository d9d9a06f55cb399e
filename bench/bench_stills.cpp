// Faces found in dlib's annotated example photos (Debian's libdlib19.1 docs, examples/faces): the tracker on
// each photo on its own (the `annotate --stills` policy: the thorough scan, a lower detector threshold, the
// confidence check) against dlib's HOG detector with one upsampling, the usual way to find small faces.
// A true face is found when a face's landmark box (ours) or mapped detector box (dlib's) overlaps its
// landmark box by IoU > 0.3; anything else found is counted as not a face (or an unannotated one).
//   bench_stills MODEL [FACES_DIR [MIN_FACE]]
#include <torch/torch.h>

#include <opencv2/imgcodecs.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "lddmm/track/clip.hpp"
#include "lddmm/track/tracker.hpp"

namespace {
using namespace lddmm;
namespace fs = std::filesystem;

struct Count {
  int found = 0, extra = 0;
};

Count count(const std::vector<Box>& truth, const std::vector<Box>& boxes) {
  Count c;
  for (const Box& t : truth)
    c.found += std::any_of(boxes.begin(), boxes.end(), [&](const Box& b) { return iou(b, t) > 0.3; }) ? 1 : 0;
  for (const Box& b : boxes)
    c.extra +=
        std::none_of(truth.begin(), truth.end(), [&](const Box& t) { return iou(b, t) > 0.3; }) ? 1 : 0;
  return c;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_stills MODEL [FACES_DIR [MIN_FACE]]\n");
    return 2;
  }
  const fs::path dir = argc > 2 ? argv[2] : "/usr/share/doc/libdlib19.1/examples/faces";
  torch::set_num_threads(2);
  std::map<std::string, std::vector<Box>> truth;
  for (const char* xml : {"training_with_face_landmarks.xml", "testing_with_face_landmarks.xml"})
    for (const auto& [file, points] : dlib_annotated_faces(dir / xml))
      truth[file].push_back(landmark_box(points));
  LddmmBackendOptions bo;
  bo.device = "cpu";
  TrackerOptions to;
  to.stills = true;
  if (argc > 3) to.min_face = std::atoi(argv[3]);
  to.smoothing.enabled = false;
  Tracker tracker(make_lddmm_backend(load_model(argv[1]), bo), BoxMap::installed(), to);
  const FaceDetector detector;
  const BoxMap map = BoxMap::installed();
  int faces = 0;
  Count ours_all, dlib_all;
  std::printf("%-18s %6s %12s %12s\n", "photo", "faces", "ours (extra)", "dlib (extra)");
  for (const auto& [file, boxes] : truth) {
    Frame f;
    f.image = cv::imread((dir / file).string(), cv::IMREAD_COLOR);
    if (f.image.empty()) continue;
    std::vector<Box> ours, theirs;
    for (const FaceResult& r : tracker.process(f).faces) ours.push_back(landmark_box(r.raw));
    for (const Box& b : detector.detect(f.image, 1)) theirs.push_back(map.apply(b));
    const Count a = count(boxes, ours), b = count(boxes, theirs);
    std::printf("%-18s %6zu %8d (%d) %8d (%d)\n", file.c_str(), boxes.size(), a.found, a.extra, b.found,
                b.extra);
    faces += static_cast<int>(boxes.size());
    ours_all.found += a.found;
    ours_all.extra += a.extra;
    dlib_all.found += b.found;
    dlib_all.extra += b.extra;
  }
  std::printf("%-18s %6d %8d (%d) %8d (%d)\n", "all", faces, ours_all.found, ours_all.extra, dlib_all.found,
              dlib_all.extra);
  return 0;
}
