// A landmark scheme: named, ordered points split into curves, with the data the method needs around it
// (mirror permutation, NME normalisation pair, facial parts, mean face). Schemes are JSON files under
// resources/schemes/ (format: resources/schemes/README.md) and are validated when loaded.
#pragma once

#include <array>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "lddmm/flow/points.hpp"

namespace lddmm {

/// Facial parts for NME_c, in the order of the paper's tables: contour (F), brows (E), nose (N),
/// eyes (I), mouth (M). O is the mean of the five.
enum class Part { Contour = 0, Brows, Nose, Eyes, Mouth };
inline constexpr int kNumParts = 5;
const char* part_name(Part part);
/// One-letter code of the paper's tables: F, E, N, I, M.
char part_letter(Part part);
std::optional<Part> parse_part(const std::string& name);

struct Curve {
  std::string name;
  std::vector<int> points;  // ordered indices into the scheme's points
  bool closed = false;      // closed curves have a segment from the last point back to the first
  Part part = Part::Contour;
};

/// A vertex of a derivation polyline: (1 - t)·x_i + t·x_j in the parent scheme (i == j for a plain vertex).
struct BlendVertex {
  int i = 0;
  int j = 0;
  double t = 0.0;
};

/// How a scheme's provisional mean face is derived from another scheme's mean face: each curve of this
/// scheme is placed uniformly by arc length on a polyline through the parent's points (a polyline with
/// exactly as many vertices as the curve has points gives the points directly).
struct Derivation {
  std::string parent;                               // parent scheme id
  std::vector<std::vector<BlendVertex>> polylines;  // one per curve of this scheme
};

/// This scheme's points are a selection (with possible repeats) of the parent's points.
struct Subset {
  std::string parent;
  std::vector<int> indices;  // one per point of this scheme
};

struct MeanFace {
  Points points;             // in crop pixels of a square frame of side `frame`
  double frame = 256.0;      // side of the crop frame the points live in
  bool provisional = false;  // true until computed from real annotations of this scheme
  std::string source;        // how it was obtained
};

struct Scheme {
  std::string id;    // short key, also the file name: "300w68"
  std::string name;  // display name: "300W 68 points"
  std::string description;
  int num_points = 0;
  std::vector<Curve> curves;
  std::vector<int> mirror;                 // point i ↔ mirror[i] under a left/right flip
  std::array<int, 2> normalisation{0, 0};  // the pair whose distance normalises NME
  MeanFace mean_face;
  std::optional<Subset> subset_of;
  std::optional<Derivation> derived_from;

  /// Index of the curve each point belongs to.
  std::vector<int> point_curve() const;
  /// Facial part of each point (the part of its curve).
  std::vector<Part> point_parts() const;
  /// σ_V per curve in mean-face frame pixels, by the rule of sigma_for_curve().
  std::vector<double> sigma_v() const;
  /// σ_W = σ_V / 2 per curve.
  std::vector<double> sigma_w() const;
  /// The mean face's points of curve c, in curve order.
  Points curve_points(int c) const;
};

/// Error in a scheme file or scheme definition; the message names the file and the problem.
class SchemeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The documented σ_V rule: σ = kSigmaScale × the curve's diameter (largest distance between two of its
/// mean-face points). kSigmaScale = 0.65 is the least-squares (log) fit to the authors' twelve 300W-68
/// values; with the project's 300W-68 mean face the rule reproduces them within 10 % RMS (largest gaps:
/// jaw 31.3 vs 36.2, nose bridge 8.7 vs 7.2 in a 64-px frame). A one-point curve gets kSingleSigma × frame.
inline constexpr double kSigmaScale = 0.65;
inline constexpr double kSingleSigma = 0.05;
double sigma_for_curve(const Points& curve_points, double frame);

/// Checks the invariants (indices in range, every point in exactly one curve, curves non-empty, mirror
/// an involution, normalisation pair distinct, mean face of the right size); throws SchemeError.
void validate(const Scheme& scheme, const std::string& origin);

Scheme parse_scheme(const std::string& json_text, const std::string& origin);
std::string scheme_to_json(const Scheme& scheme);

/// One more view of a face in the running mean of its landmarks over views, some of them mirror images
/// mirrored back: `count[q]` is the number of views of point q so far (updated; all 0 before the first
/// view, which then sets the mean). A mirrored view has no view of a point without a mirror partner
/// (`partners[q]` < 0, see mirror_partners): that point keeps the mean of the other views.
void add_view(Points& mean, std::vector<double>& count, const Points& view, const std::vector<int>& partners,
              bool mirrored);

/// A dense version of `scheme`: between every two neighbours of each curve, `factor - 1` points are
/// inserted on the mean face's polyline (uniform arc length within the segment). Original points keep
/// their positions and come first in the same order, so the dense scheme contains the sparse one.
Scheme dense_scheme(const Scheme& scheme, int factor);

/// Applies a derivation: the mean face of `scheme` from the mean face of its parent.
Points derive_mean_face(const Scheme& scheme, const Scheme& parent);

}  // namespace lddmm
