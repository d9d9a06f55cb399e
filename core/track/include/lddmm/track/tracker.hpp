// The tracking engine's synchronous core: detect faces with dlib's HOG detector on a schedule, follow
// each face from its previous landmarks in between, align all faces of a frame in one batch, smooth, and
// convert to the requested output scheme. Two alignment backends share the policy: the LDDMM-Face model
// (LibTorch, CUDA when present) and dlib's 68-point shape predictor (the baseline of `bench`).
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lddmm/face/faces.hpp"
#include "lddmm/flow/points.hpp"
#include "lddmm/flow/scheme.hpp"
#include "lddmm/flow/temporal.hpp"
#include "lddmm/net/model.hpp"
#include "lddmm/track/source.hpp"

namespace lddmm {

/// Where to look for a face: the square around its (possibly rotated) landmark box.
struct FaceCrop {
  Eigen::RowVector2d centre{0, 0};  // landmark box centre, image pixels
  double side = 0;                  // landmark box side (the larger of width and height), pixels
  double angle = 0;                 // in-plane rotation of the face, radians (eye axis against the x axis)
  std::optional<Box> detection;     // the detector's own box when the face was just detected
};

/// What the flow looks like for one face, in image pixels (for drawing).
struct FaceFlow {
  Points template_points;          // the model's mean face where the crop puts it
  Points momenta;                  // α(0) at the template points (vectors, pixels)
  std::vector<Points> trajectory;  // x(t_k), k = 0..steps
  Points grid;                     // deformed grid nodes ((cells + 1)² rows), empty when not asked
  std::vector<double> grid_det;    // det of the flow's Jacobian at each node
  std::vector<int64_t> grid_curve;
  int grid_cells = 0;
};

struct AlignedFace {
  Points points;  // the model's scheme, image pixels
  Points output;  // the output scheme, image pixels (same as points when it is the model's)
  std::optional<FaceFlow> flow;
  // When the crop's mirror image was aligned too: the two views' disagreement (view_disagreement), else NaN.
  double disagreement = std::numeric_limits<double>::quiet_NaN();
  // The model's estimate of the landmarks' NME (its confidence head, AlignerImpl::estimated_error), else NaN.
  double estimated_error = std::numeric_limits<double>::quiet_NaN();
};

/// An alignment method: crops → landmarks.
class AlignBackend {
 public:
  virtual ~AlignBackend() = default;
  virtual const Scheme& scheme() const = 0;         // the points it predicts
  virtual const Scheme& output_scheme() const = 0;  // the points it reports
  virtual std::vector<AlignedFace> align(const cv::Mat& bgr, const std::vector<FaceCrop>& crops,
                                         bool with_flow) = 0;
  virtual std::string describe() const = 0;
  /// Whether a second pass in the crop its own landmarks imply helps it (TrackerOptions::refine_new).
  virtual bool refines() const { return true; }
  /// Landmarks from the mirror images of the crops, mirrored back (no flow): the tracker's second pass on
  /// a new face, averaged with the first, gives two views of it for the price of the refinement.
  virtual std::vector<AlignedFace> align_mirrored(const cv::Mat& bgr, const std::vector<FaceCrop>& crops) {
    return align(bgr, crops, false);
  }
  /// Whether every pass already averages in the mirrored crop (then the refinement is a plain second pass).
  virtual bool mirrors() const { return false; }
  /// Whether align_checked's disagreement means anything (a confidence check can turn a box away).
  virtual bool checks() const { return true; }
  /// Whether every face it aligns has an estimated_error (the model's confidence head).
  virtual bool estimates() const { return false; }
  /// Whether its landmarks are steady enough to move a crop by the face's last motion on the next frame
  /// (dlib's jitter several times more: its crop moves only for a second frame of a batch).
  virtual bool steady() const { return true; }
  /// Whether a flow (align's with_flow) carries the display grid, a few ms a face: on until switched off (a
  /// hidden grid need not be computed every frame).
  virtual void set_grid(bool /*on*/) {}
  /// align() with the crops' mirror images too, their disagreement set (the confidence check); the landmarks
  /// are align()'s.
  virtual std::vector<AlignedFace> align_checked(const cv::Mat& bgr, const std::vector<FaceCrop>& crops,
                                                 bool with_flow);
};

struct LddmmBackendOptions {
  std::string output_scheme;  // "" = the model's; a scheme id or file; "ID@K" = dense
  int grid_cells = 16;        // grid density of FaceFlow (0: no grid)
  bool per_curve_grid =
      false;  // grid nodes ride on their nearest curve's flow (the paper's; tears between curves)
  std::string device = "auto";  // where the network runs (parse_device: auto, cpu, cuda, cuda:N)
  bool flip = false;            // test-time mirroring: average with the mirrored crop (~1.6× work)
};

/// The LDDMM-Face model. Faces of one frame go through the network as one batch.
std::unique_ptr<AlignBackend> make_lddmm_backend(Aligner model, const LddmmBackendOptions& options = {});
/// dlib's 68-point shape predictor, fed the detector box (or the one the previous landmarks imply).
std::unique_ptr<AlignBackend> make_dlib_backend(const BoxMap& map);
/// An ensemble (more accurate, slower): every crop goes to each backend (each at its own input size and
/// calibration) and their landmarks are averaged in the frame's pixels; the flow drawn is the first's. The
/// backends must predict and report the same schemes. One backend is returned as it is.
std::unique_ptr<AlignBackend> make_ensemble_backend(std::vector<std::unique_ptr<AlignBackend>> members);

/// Two scans find faces. The quick one (the frame at `detect_width`, on the aligner's thread) runs every
/// `detect_every` frames, and on every frame while no face is tracked. The thorough one finds faces down to
/// `min_face` pixels wide (the frame scaled by 80 / min_face) on the detector's own thread: files scan every
/// `scan_every`-th frame ahead of the aligner (the same result every run), cameras the newest frame whenever
/// the thread is free, at most every `scan_every` frames while faces are tracked.
/// When the tracker lets a face go, matches a box to it, or takes two tracks for one face (all sizes relative
/// to the face's crop side unless in pixels).
struct TrackLimits {
  double min_side_ratio = 0.6;  // a face whose new crop is smaller than this × the last one has jumped: lost
  double max_side_ratio = 1.6;  // … or larger than this ×
  double max_move = 0.5;        // … or whose centre moved more than this × the crop side in one frame
  double min_side = 8;          // a crop smaller than this (pixels) is lost
  double match_iou = 0.3;       // a detector box (mapped) and a track's crop box are one face above this
  double duplicate_iou = 0.5;   // two tracks this close are one face: the newer is dropped
  double resume_iou = 0.4;      // a box found where a lost track was looked for takes its id above this
  double rejected_iou = 0.3;    // a box this close to one that failed its first check is not tried again…
  int rejected_frames = 30;     // … for this many frames
};

struct TrackerOptions {
  int min_face = 48;         // smallest face width found by the thorough scan, frame pixels; 0: none
  int stills_min_face = 32;  // the same for photos (`stills`), where time matters less
  int scan_every = 30;       // frames between thorough scans
  double max_scan_pixels =
      8e6;                 // most pixels a thorough scan covers (huge frames: larger min_face); stills ×4
  int detect_every = 10;   // frames between quick scans while every face is tracked
  int detect_width = 320;  // the quick scan sees the frame scaled to this width (0: full size)
  int upsample = 0;        // the quick scan doubles its image this many times
  // Added to the detector's threshold: below 0 it finds more faces, and boxes that are none, which the
  // confidence check of a new face's first alignment turns away.
  double detect_threshold = -0.6;
  // A thorough scan's box up to `candidate_margin` under that threshold, on no tracked face, is a candidate:
  // its region is scanned again every `candidate_every` frames, `candidate_looks` times, at the threshold
  // (the detector finds a face entering the frame on one frame and not the next). At most 4 at once.
  double candidate_margin = 0.4;
  int candidate_every = 3;
  int candidate_looks = 2;
  int max_faces = 8;
  int max_misses = 2;  // scans that should have seen a tracked face and did not, before it is dropped
  // The confidence (lddmm/confidence.hpp): the crops' mirror images aligned too, in the same batch, on every
  // `confidence_every`-th frame and a new face's first; a face under `min_confidence` at a check is let go
  // (a detector box that is no face; a track that slid onto hair or background, or left). `confidence_half`:
  // the views' disagreement that gives ½.
  // A model with a confidence head estimates every face's error on every frame (its confidence, ½ at an
  // estimated NME of `error_half`); a face it doubts is checked on the next frame, and the schedule is off.
  int confidence_every = 10;  // 0: no checks (a model without a head: every face's confidence stays 1)
  double min_confidence = 0.2;
  double confidence_half = 0.025;
  double error_half = 0.1;
  bool flow = false;           // fill AlignedFace::flow (template, momenta, trajectories, grid)
  int parallel_frames = 1;     // frames the engine hands to process_batch at once (files only)
  bool predict_motion = true;  // place crops where the face's last motion will take it
  // A face the detector has just found is aligned this many more times, each time in the crop its landmarks
  // so far imply (the kind of crop the network was trained on) instead of the one mapped from the detector
  // box, the views alternating between that crop's mirror image and the crop, in pairs at 1, 0.9 and 1.1
  // × that crop, averaged (refine_faces). A backend that mirrors every pass (--flip) gets at most one.
  int refine_new = 5;
  bool stills = false;  // every frame on its own (a folder of photos): detect afresh, no tracks, no smoothing
  SmoothingOptions smoothing;
  TrackLimits limits;
};

struct FaceResult {
  int id = 0;
  Box box;                // the face's landmark box (output points), image pixels
  double score = 0;       // the detector's confidence at its last detection
  double confidence = 1;  // the network's, 0-1: its confidence head's on this frame, else its last check's
  bool detected = false;  // the detector found it on this frame (else it was followed)
  Points points;          // output scheme, smoothed when smoothing is on
  Points raw;             // the model's scheme, not smoothed
  std::optional<FaceFlow> flow;
};

struct FrameResult {
  int64_t index = 0;
  double time = 0;
  std::vector<FaceResult> faces;
  bool detector_ran = false;
  double detect_ms = 0, align_ms = 0, total_ms = 0;
};

class Tracker {
 public:
  Tracker(std::unique_ptr<AlignBackend> backend, const BoxMap& map, TrackerOptions options = {});
  ~Tracker();
  Tracker(Tracker&&) noexcept;
  Tracker& operator=(Tracker&&) noexcept;
  FrameResult process(const Frame& frame);
  /// Consecutive frames planned together: detection (when due) on the first, the same crops for all,
  /// aligned on parallel threads (one per frame), then tracks updated frame by frame. With one LibTorch
  /// thread per frame this uses a 2-core CPU far better than intra-op threads on small convolutions;
  /// the price is that the second frame's crop comes from landmarks two frames old.
  std::vector<FrameResult> process_batch(const std::vector<Frame>& frames);
  /// A file's frame as soon as it is read (the engine's reader thread): starts its thorough scan, when it
  /// has one, ahead of the aligner. Thread-safe with process_batch. Optional: process_batch scans a frame
  /// that was not prefetched itself.
  void prefetch(const Frame& frame);
  /// A camera (scan the newest frame when free, take boxes when ready) or a file (scan fixed frames, in
  /// order). The engine sets it from its source.
  void set_live(bool live);
  /// Forgets every face (a seek). `new_ids`: ids start again at 1 (a new video).
  void reset(bool new_ids = false);
  const AlignBackend& backend() const;
  const TrackerOptions& options() const;
  void set_smoothing(const SmoothingOptions& smoothing);
  void set_flow(bool flow);
  /// The backend's set_grid: whether flows carry the display grid.
  void set_grid(bool on);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The shipped model: $LDDMM_MODEL, else share/lddmm-face/models (installed) or the source tree's models/.
std::string default_model_path();
/// The two shipped files for an ensemble (`--accurate`): the shipped model and the 192-px file beside it
/// (an error naming the missing file when it is not there).
std::vector<std::string> accurate_model_paths();
/// The LDDMM backend of one model file, or the ensemble (make_ensemble_backend) of several.
std::unique_ptr<AlignBackend> make_model_backend(const std::vector<std::string>& files,
                                                 const LddmmBackendOptions& options = {});

/// More views of faces the detector has just found (TrackerOptions::refine_new): `passes` more alignments
/// of each face, each in the crop its landmarks so far imply (crop_from_points: the kind of crop the
/// network was trained on) scaled by view_scale(pass), alternating between that crop's mirror image (odd
/// passes) and the crop (even ones), as `evaluate` does; the landmarks are the mean of all views, the flow
/// the first view's. A backend that mirrors every pass (two views each) aligns again, unscaled, and its last
/// pass gives the landmarks and the flow (`with_flow`). A face whose landmarks are not finite is left alone;
/// `crops` become the last crops used.
void refine_faces(AlignBackend& backend, const cv::Mat& bgr, std::vector<FaceCrop>& crops,
                  std::vector<AlignedFace>& faces, int passes, bool with_flow = false);

/// The crop for a face whose landmarks (in `scheme`) are known: rotation from the normalisation pair
/// (outer eye corners), box of the landmarks in that rotated frame.
FaceCrop crop_from_points(const Points& points, const Scheme& scheme);

/// Where a face followed from crop `now` (its last frame's) will be `frames_ahead` frames later, moving as it
/// did from `before` to `now` (centre, side and angle at constant speed; the side at least `min_side`).
FaceCrop predict_crop(const FaceCrop& now, const FaceCrop& before, int frames_ahead, double min_side);

}  // namespace lddmm
