// `eval`'s report: a model (or an ensemble) on annotated faces, cropped around landmark or detector boxes,
// with dlib's 68-point predictor beside it on the same faces; rows by folder and by face size; the report as
// text, JSON and per-face CSV files. The command line only parses options and prints.
#pragma once

#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lddmm/face/faces.hpp"
#include "lddmm/flow/metrics.hpp"
#include "lddmm/net/model.hpp"
#include "lddmm/train/dataset.hpp"
#include "lddmm/train/trainer.hpp"

namespace lddmm {

/// The faces of `list` (a file, else relative to `data`) with the model's points (taken from their
/// annotation: the parent scheme of a subset scheme), photos reduced so that a landmark box is at most
/// `max_side` pixels.
FaceDataset model_faces(const Aligner& model, const std::filesystem::path& data, const std::string& list,
                        int max_side);

/// For each face, the detection that best matches its landmarks (IoU of the mapped box ≥ 0.3), if any;
/// progress on stderr.
std::vector<std::optional<Box>> detect_faces(const FaceDataset& set, const BoxMap& map);

/// "none", or each view's offsets: input-crop pixels, then (when there is one) the image-pixel part.
std::string describe_calibration(const Calibration& c);

struct EvalRequest {
  std::vector<std::string> models;  // one, or an ensemble
  std::filesystem::path data;       // the data folder (empty: an error once the models are read)
  std::string list = "val.txt";     // the image list, a file or relative to `data`
  std::string boxes = "landmarks";  // or "dlib": the HOG detector's boxes, mapped
  bool vs_dlib = false;             // dlib's shape predictor on the same faces and detector boxes
  bool flip = false, alternate = true;
  int refine = 5;
  std::string device = "auto";
};

struct EvalReport {
  struct Group {
    std::string label;
    NmeSummary ours, dlib;
  };
  /// What detector misses cost: the rows on the faces it found, and FR@0.1 with a miss as a failure.
  struct MissCost {
    NmeSummary ours, dlib;
    double ours_fr = 0, dlib_fr = 0;
  };
  EvalRequest request;
  std::string names;         // the model files, joined with " + "
  std::string calibrations;  // describe_calibration of each model, joined with "; "
  bool calibrated = false;   // the first model's
  EvalResult ours;
  bool use_dlib = false;                                // detector boxes were looked for
  int missed = 0;                                       // faces the detector missed
  std::vector<bool> detected;                           // per face (all true with landmark boxes)
  std::vector<double> face_px;                          // per face: landmark box side in the photo's pixels
  std::vector<Eigen::RowVector2d> offset, dlib_offset;  // per face: mean signed error, photo pixels
  std::vector<Points> photo_points, dlib_points;        // per face, photo pixels
  std::vector<double> dlib_errors;                      // per face NME (with vs_dlib)
  std::optional<NmeSummary> dlib;
  std::optional<MissCost> miss_cost;
  std::vector<Group> by_folder, by_size;
  std::optional<std::pair<PartErrors, PartErrors>> curves_vs_dlib;  // NME_c ours, dlib on found faces
};

/// Runs the evaluation; `on_pass(k, passes)` after each pass over the faces. Throws std::runtime_error.
EvalReport run_eval(const EvalRequest& request, const std::function<void(int, int)>& on_pass = {});

/// The report as people read it, as `eval` prints it.
void print_eval(std::FILE* out, const EvalReport& report);
/// The report as JSON (indented).
std::string eval_json(const EvalReport& report);
/// Per face: name, NME, whether the detector found it, dlib's NME, face size, the mean offsets.
void write_eval_csv(const EvalReport& report, const std::string& path);
/// Every face's points in the photo's pixels: face, by (ours or dlib), x0, y0, x1, y1, …
void write_eval_points(const EvalReport& report, const std::string& path);

}  // namespace lddmm
