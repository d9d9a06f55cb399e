// Tracked landmarks on disk: CSV in OpenFace 2.0's layout (a row per frame and face, a row with success 0
// for a frame without a face), JSON Lines (a header record, a record per frame, an end record), JSON (one
// document) and one .pts file per frame and face. Writers flush after every frame, so an interrupted run
// keeps what it computed; readers give the rows back (round trip, ground-truth tracks).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "lddmm/face/faces.hpp"
#include "lddmm/face/head_pose.hpp"
#include "lddmm/flow/points.hpp"
#include "lddmm/track/tracker.hpp"

namespace lddmm {

struct LandmarkRow {
  int64_t frame = 0;
  double time = 0;
  int face = 0;
  Box box;                // box.score holds the detector score
  double confidence = 1;  // the network's confidence in the landmarks (Tracker), 0-1
  Points points;
  std::string image;  // the image file the frame came from (image folders); empty for videos
  std::optional<HeadPose> pose;
  Points template_points, momenta;  // the flow's start and its momenta (JSON Lines, when asked)
};

class LandmarkWriter {
 public:
  virtual ~LandmarkWriter() = default;
  virtual void write(const LandmarkRow& row) = 0;
  /// Called once per frame after its rows (flushes). `image`: the frame's image file, if any (JSON
  /// records it, so photos without a face are listed too).
  virtual void end_frame(int64_t frame, double time, const std::string& image = "") = 0;
  /// Completes the file (closing brackets for JSON). Idempotent; the destructor calls it.
  virtual void finish() = 0;
  /// Before finish(): the run stopped early (a signal, an error). JSON records `"complete": false`.
  virtual void mark_partial() {}
};

enum class LandmarkFormat { Csv, Jsonl, Json, Pts };
/// "csv", "jsonl", "json", "pts"; throws std::invalid_argument otherwise.
LandmarkFormat parse_landmark_format(const std::string& name);
/// The format a file's extension names (.csv, .jsonl, .json); none for anything else.
std::optional<LandmarkFormat> landmark_format_of(const std::filesystem::path& file);

/// What a file says about itself.
struct LandmarkHeader {
  std::string scheme_id;
  int points = 0;
  std::string source;
  bool images = false;       // rows carry image file names (a folder of photos)
  std::string jsonl_header;  // JSON Lines: more fields of the header record (a JSON object's text)
};

/// `target`: a file for CSV and JSON, a folder for .pts. `scheme_id` and `points` describe the columns.
/// `images`: the rows carry image file names (a folder of photos) — CSV gets a last column "image", JSON
/// an "image" field per frame, .pts files are named after the image (`<stem>_face_<id>.pts`).
std::unique_ptr<LandmarkWriter> make_landmark_writer(LandmarkFormat format,
                                                     const std::filesystem::path& target,
                                                     const LandmarkHeader& header);
std::unique_ptr<LandmarkWriter> make_landmark_writer(LandmarkFormat format,
                                                     const std::filesystem::path& target,
                                                     const std::string& scheme_id, int points,
                                                     const std::string& source = "", bool images = false);

class LandmarkFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reads a CSV, JSON Lines or JSON file written by the writers (by extension; CSV rows with success 0 are
/// frames without a face and give no row); throws LandmarkFileError.
std::vector<LandmarkRow> read_landmarks(const std::filesystem::path& file);
/// Reads a .pts folder written by the writer. Photo-named files (`<stem>_face_<id>.pts`) come back with
/// `image` = the stem and frames numbered in name order.
std::vector<LandmarkRow> read_landmark_pts(const std::filesystem::path& folder);

/// What rows_of adds to the tracker's results.
struct RowExtras {
  const HeadPoseEstimator* pose = nullptr;  // head pose from the 68 points, when given
  bool pose_from_raw = false;               // the 68 points are the model's (raw), not the output scheme's
  bool momenta = false;  // the flow's template points and momenta (the tracker must compute flows)
};

/// The rows of one tracker result; `image`: the frame's image file name, if any.
std::vector<LandmarkRow> rows_of(const FrameResult& result, const std::string& image = "",
                                 const RowExtras& extras = {});

}  // namespace lddmm
