// Face alignment metrics of the paper: NME_l with FR and AUC, the cumulative error curve, NME_c per
// facial part, and the DetJ table.
#pragma once

#include <array>
#include <vector>

#include <Eigen/Core>

#include "lddmm/flow/points.hpp"
#include "lddmm/flow/scheme.hpp"

namespace lddmm {

/// Distance between the normalisation pair of `truth` (outer eye corners for 300W-68).
double normalising_distance(const Points& truth, const std::array<int, 2>& pair);

/// NME_l of one face: mean point-to-point distance divided by `d`.
double nme(const Points& predicted, const Points& truth, double d);

/// Spearman's rank correlation of two equally long samples (ties get their mean rank); 0 when either is
/// constant or they have fewer than two values.
double spearman(const std::vector<double>& a, const std::vector<double>& b);

/// The value at fraction `q` (0–1) of the sorted values, linear between neighbours; 0 when there are none.
double quantile(std::vector<double> values, double q);

/// The probability that a value of `lower` is below one of `higher`, ties counting half: the ROC AUC of
/// telling the two apart by a threshold. 0.5 when either is empty.
double roc_auc(const std::vector<double>& lower, const std::vector<double>& higher);

/// The cumulative error distribution: fraction of faces with NME ≤ threshold.
struct ErrorCurve {
  std::vector<double> threshold;
  std::vector<double> fraction;
};
ErrorCurve cumulative_error_curve(const std::vector<double>& errors, double limit = 0.1, int samples = 101);

struct NmeSummary {
  double mean = 0;     // mean NME_l
  double failure = 0;  // FR@limit: share of faces with NME > limit
  double auc = 0;      // AUC@limit of the cumulative error curve, normalised to [0, 1]
  int faces = 0;
};
/// Summary over faces. AUC is exact: (1/limit)·∫₀^limit CED(e) de = mean over faces of max(0, 1 − e/limit).
NmeSummary summarize(const std::vector<double>& errors, double limit = 0.1);

/// The summary of each group of faces: face i belongs to group[i], in [0, groups); a group without faces
/// has faces == 0 (and zeros elsewhere). Throws std::invalid_argument on a size mismatch or a bad group.
std::vector<NmeSummary> summarize_groups(const std::vector<double>& errors, const std::vector<int>& group,
                                         int groups, double limit = 0.1);

/// The band of `value` among ascending `edges`: 0 below edges[0], k for edges[k-1] ≤ value < edges[k],
/// edges.size() at or above the last edge.
int band(double value, const std::vector<double>& edges);

/// NME_c per facial part (F, E, N, I, M) and O, their mean, for schemes whose points need not
/// correspond: per part, the mean of nearest-neighbour distances predicted→true and true→predicted,
/// averaged, divided by `d`. A part absent from either side is NaN and left out of O.
struct PartErrors {
  std::array<double, kNumParts> part{};
  double overall = 0;
};
PartErrors nme_curves(const Points& predicted, const std::vector<Part>& predicted_parts, const Points& truth,
                      const std::vector<Part>& truth_parts, double d);
/// Mean of PartErrors over faces, part by part (NaNs skipped).
PartErrors mean_part_errors(const std::vector<PartErrors>& faces);

/// DetJ table from Jacobians of the deformation at landmarks (all faces pooled).
struct DetJTable {
  double mean_det = 0;     // DetJA: mean of det J
  long nonpositive = 0;    // DetJN: count of det J ≤ 0
  double det_of_mean = 0;  // DetJAM: det of the mean Jacobian
  long count = 0;
};
DetJTable detj_table(const std::vector<Eigen::Matrix2d>& jacobians);

}  // namespace lddmm
