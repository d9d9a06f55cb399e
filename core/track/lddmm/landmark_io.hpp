// Tracked landmarks on disk: CSV (one row per frame and face), JSON (one document, frames in order) and
// one .pts file per frame and face. Writers flush after every frame, so an interrupted run keeps what it
// computed; readers give the rows back (round trip, ground-truth tracks).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "lddmm/faces.hpp"
#include "lddmm/points.hpp"
#include "lddmm/tracker.hpp"

namespace lddmm {

struct LandmarkRow {
  int64_t frame = 0;
  double time = 0;
  int face = 0;
  Box box;  // box.score holds the detector score
  Points points;
};

class LandmarkWriter {
 public:
  virtual ~LandmarkWriter() = default;
  virtual void write(const LandmarkRow& row) = 0;
  /// Called once per frame after its rows (flushes).
  virtual void end_frame(int64_t frame, double time) = 0;
  /// Completes the file (closing brackets for JSON). Idempotent; the destructor calls it.
  virtual void finish() = 0;
};

enum class LandmarkFormat { Csv, Json, Pts };
/// "csv", "json", "pts"; throws std::invalid_argument otherwise.
LandmarkFormat parse_landmark_format(const std::string& name);

/// `target`: a file for CSV and JSON, a folder for .pts. `scheme_id` and `points` describe the columns.
std::unique_ptr<LandmarkWriter> make_landmark_writer(LandmarkFormat format,
                                                     const std::filesystem::path& target,
                                                     const std::string& scheme_id, int points,
                                                     const std::string& source = "");

class LandmarkFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reads a CSV or JSON file written by the writers (by extension); throws LandmarkFileError.
std::vector<LandmarkRow> read_landmarks(const std::filesystem::path& file);
/// Reads a .pts folder written by the writer.
std::vector<LandmarkRow> read_landmark_pts(const std::filesystem::path& folder);

/// The rows of one tracker result.
std::vector<LandmarkRow> rows_of(const FrameResult& result);

}  // namespace lddmm
