// Generated videos with known truth. The sample video: a photo shipped with Debian's dlib examples, filmed
// by a synthetic camera (pan, zoom, in-plane rotation, a fast whip pan, brightness changes). The wide shots:
// faces cut from annotated photos pasted at known sizes into a large frame, moving, entering, leaving and
// turning. The true landmark track of every face is known exactly because every motion is.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "lddmm/flow/points.hpp"

namespace lddmm {

struct ClipOptions {
  std::filesystem::path faces_dir = "/usr/share/doc/libdlib19.1/examples/faces";
  std::string annotations = "testing_with_face_landmarks.xml";  // dlib image-dataset XML with 68 parts
  std::string image = "2008_002506.jpg";                        // three faces, 90–110 px
  int width = 640, height = 480;
  double fps = 30;
  int frames = 300;
};

struct ClipInfo {
  int frames = 0;
  int faces = 0;       // annotated faces in the photo
  int truth_rows = 0;  // (frame, face) pairs whose landmarks are all inside the picture
};

/// Writes the clip (`video`: .avi → Motion-JPEG, .mp4 → MPEG-4 part 2) and its true landmarks as a
/// landmark CSV (faces numbered from 1 in the XML's order). Deterministic. Throws std::runtime_error when
/// the photo or its annotations are missing or the video cannot be written.
ClipInfo generate_clip(const ClipOptions& options, const std::filesystem::path& video,
                       const std::filesystem::path& truth_csv);

/// The 68-point faces of a dlib image-dataset XML (dlib's examples/faces/*_with_face_landmarks.xml): the
/// image file as the XML names it, and the landmarks. Throws std::runtime_error when it cannot be read.
std::vector<std::pair<std::string, Points>> dlib_annotated_faces(const std::filesystem::path& xml);

struct WideClipOptions {
  std::filesystem::path faces_dir = "/usr/share/doc/libdlib19.1/examples/faces";  // dlib's annotated photos
  std::filesystem::path data_dir;  // a 300-W folder with val.txt (its faces are used too); empty: dlib's only
  int width = 1280, height = 720;
  double fps = 30;
  int frames = 180;
  std::vector<double> sizes = {40, 56, 80, 110, 150, 200};  // face widths (landmark box), one face each
  unsigned seed = 1;
};

/// A wide shot: the faces of `sizes` (the widths of their landmark boxes) on a moving background, each
/// drifting, under a slow camera pan; the first face enters from the left (1-2.5 s), the second leaves to the
/// right (3-5 s), the third turns in the image to 60° and back (1.5-4.5 s), beyond a frontal detector.
/// Faces come in turn from val.txt (when `data_dir` is set) and from dlib's annotated photos. Writes the
/// video and its truth as generate_clip does (faces numbered from 1 in `sizes` order); deterministic.
ClipInfo generate_wide_clip(const WideClipOptions& options, const std::filesystem::path& video,
                            const std::filesystem::path& truth_csv);

}  // namespace lddmm
