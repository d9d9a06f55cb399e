// The project's own sample video: a photo shipped with Debian's dlib examples, filmed by a synthetic
// camera (pan, zoom, in-plane rotation, a fast whip pan, brightness changes), with the true landmark
// track of every annotated face, known exactly because the camera motion is.
#pragma once

#include <filesystem>
#include <string>

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

}  // namespace lddmm
