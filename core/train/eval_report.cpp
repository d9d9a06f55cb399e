#include "lddmm/train/eval_report.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <fstream>
#include <limits>
#include <stdexcept>

#include "lddmm/flow/scheme.hpp"
#include "lddmm/io/progress.hpp"
#include "lddmm/io/scheme_files.hpp"
#include "lddmm/net/device.hpp"

namespace lddmm {

namespace fs = std::filesystem;

FaceDataset model_faces(const Aligner& model, const fs::path& data, const std::string& list, int max_side) {
  const Scheme& scheme = model->scheme();
  const Scheme annotation = scheme.subset_of ? find_scheme(scheme.subset_of->parent) : scheme;
  const fs::path file = fs::exists(list) ? fs::path(list) : data / list;
  return FaceDataset(data, file, annotation, scheme, max_side);
}

std::vector<std::optional<Box>> detect_faces(const FaceDataset& set, const BoxMap& map) {
  FaceDetector detector;
  std::vector<std::optional<Box>> found(set.size());
  Progress progress(stderr, static_cast<int64_t>(set.size()), false);
  for (size_t i = 0; i < set.size(); ++i) {
    const Box truth = landmark_box(set.record(i).points);
    double best = 0.3;
    for (const Box& d : detector.detect(set.record(i).image)) {
      const double o = iou(map.apply(d), truth);
      if (o >= best) best = o, found[i] = d;
    }
    progress.update(static_cast<int64_t>(i + 1), "photos through dlib's detector");
  }
  progress.finish();
  return found;
}

std::string describe_calibration(const Calibration& c) {
  if (c.empty()) return "none";
  const auto xy = [](const std::array<double, 2>& v) {
    char b[64];
    std::snprintf(b, sizeof b, "%+.3f %+.3f", v[0], v[1]);
    return std::string(b);
  };
  std::string out = "direct " + xy(c.direct) + ", mirrored " + xy(c.mirrored);
  if (c.has_image_term())
    out += "; image px: direct " + xy(c.direct_image) + ", mirrored " + xy(c.mirrored_image);
  return out;
}

namespace {

// The faces as each model sees them (photos reduced to its crop scale), and with detector boxes the photos at
// their own resolution, the detections and each model's first boxes.
struct EvalFaces {
  std::vector<FaceDataset> sets;
  std::optional<FaceDataset> original;
  std::vector<std::optional<Box>> detections;
  std::vector<std::vector<Box>> boxes;
  BoxMap map;
};

// Detector boxes scaled into each model's reduced photos; a face the detector missed keeps its landmark box.
void detector_boxes(EvalFaces& f, size_t models) {
  f.boxes.assign(models, {});
  for (size_t m = 0; m < models; ++m)
    for (size_t i = 0; i < f.sets[m].size(); ++i) {
      const Box full = landmark_box(f.original->record(i).points),
                reduced = landmark_box(f.sets[m].record(i).points);
      const double s = reduced.w / std::max(full.w, 1e-9);  // reduced pixels per original pixel
      if (f.detections[i]) {
        const Box b = f.map.apply(*f.detections[i]);
        f.boxes[m].push_back({b.x * s, b.y * s, b.w * s, b.h * s, b.score});
      } else {
        f.boxes[m].push_back(reduced);
      }
    }
}

EvalFaces eval_faces(const std::vector<Aligner>& models, const EvalRequest& rq, bool use_dlib) {
  EvalFaces f;
  for (const Aligner& m : models)
    f.sets.push_back(model_faces(m, rq.data, rq.list, static_cast<int>(m->config().input_size * 1.25)));
  if (!use_dlib) return f;
  // The detector and dlib's predictor see the photos at their own resolution.
  f.original.emplace(model_faces(models.front(), rq.data, rq.list, std::numeric_limits<int>::max()));
  f.map = BoxMap::load((scheme_dir().parent_path() / "dlib_boxmap.json").string());
  f.detections = detect_faces(*f.original, f.map);
  detector_boxes(f, models.size());
  return f;
}

// dlib's 68-point predictor on the detector's box (or the box a detection would have given), its NME, NME_c
// and points; returns the NME_c per face.
std::vector<PartErrors> dlib_baseline(EvalReport& r, const EvalFaces& f, const Scheme& scheme) {
  const ShapePredictor predictor;
  const std::vector<Part> parts = scheme.point_parts();
  std::vector<PartErrors> dlib_parts;
  for (size_t i = 0; i < f.original->size(); ++i) {
    const FaceRecord& face = f.original->record(i);
    const Box b = f.detections[i] ? *f.detections[i] : f.map.invert(landmark_box(face.points));
    const Points p68 = predictor.predict(face.image, b);
    Points p = p68;
    if (scheme.subset_of) {
      p.resize(scheme.num_points, 2);
      for (int k = 0; k < scheme.num_points; ++k)
        p.row(k) = p68.row(scheme.subset_of->indices[static_cast<size_t>(k)]);
    }
    const Points truth = f.original->target_points(i);
    const double d = normalising_distance(truth, scheme.normalisation);
    r.dlib_errors.push_back(nme(p, truth, d));
    r.dlib_points.push_back(p / face.scale);
    r.dlib_offset.push_back((r.dlib_points.back() - truth / face.scale).colwise().mean());
    dlib_parts.push_back(nme_curves(p, parts, truth, parts, d));
  }
  r.dlib = summarize(r.dlib_errors);
  return dlib_parts;
}

void miss_cost(EvalReport& r) {
  if (!r.use_dlib || r.missed == 0) return;
  EvalReport::MissCost c;
  std::vector<double> ours_found, dlib_found;
  for (size_t i = 0; i < r.detected.size(); ++i) {
    if (!r.detected[i]) continue;
    ours_found.push_back(r.ours.nme[i]);
    if (!r.dlib_errors.empty()) dlib_found.push_back(r.dlib_errors[i]);
  }
  const auto fr = [&](const std::vector<double>& found) {
    const auto fails = std::count_if(found.begin(), found.end(), [](double e) { return e > 0.1; });
    return static_cast<double>(fails + r.missed) / static_cast<double>(r.detected.size());
  };
  c.ours = summarize(ours_found);
  c.ours_fr = fr(ours_found);
  if (!dlib_found.empty()) {
    c.dlib = summarize(dlib_found);
    c.dlib_fr = fr(dlib_found);
  }
  r.miss_cost = c;
}

// Rows of the faces the detector found (all faces with landmark boxes) by `group`.
std::vector<EvalReport::Group> group_rows(const EvalReport& r, const std::vector<int>& group,
                                          const std::vector<std::string>& labels) {
  const int n = static_cast<int>(labels.size());
  std::vector<int> kept = group;  // missed faces go to an extra group, left out
  for (size_t i = 0; i < kept.size(); ++i)
    if (!r.detected[i]) kept[i] = n;
  const std::vector<NmeSummary> ours = summarize_groups(r.ours.nme, kept, n + 1);
  const std::vector<NmeSummary> theirs = r.dlib_errors.empty() ? std::vector<NmeSummary>(labels.size() + 1)
                                                               : summarize_groups(r.dlib_errors, kept, n + 1);
  std::vector<EvalReport::Group> rows;
  for (size_t g = 0; g < labels.size(); ++g)
    if (ours[g].faces > 0) rows.push_back({labels[g], ours[g], theirs[g]});
  return rows;
}

// Per face: size, offset, points in the photo; rows by subset (the list's first folder) and by face size.
void per_face(EvalReport& r, const FaceDataset& set) {
  std::vector<std::string> folders;
  std::vector<int> folder_of, band_of;
  for (size_t i = 0; i < set.size(); ++i) {
    const FaceRecord& face = set.record(i);
    const Eigen::RowVector2d extent = face.points.colwise().maxCoeff() - face.points.colwise().minCoeff();
    r.face_px.push_back(extent.maxCoeff() / face.scale);
    r.photo_points.push_back(r.ours.predicted[i] / face.scale);  // the record is the photo scaled
    r.offset.push_back((r.ours.predicted[i] - set.target_points(i)).colwise().mean() / face.scale);
    const auto slash = face.name.find('/');
    const std::string folder = slash == std::string::npos ? std::string() : face.name.substr(0, slash);
    const auto at = std::find(folders.begin(), folders.end(), folder);
    folder_of.push_back(static_cast<int>(at - folders.begin()));
    if (at == folders.end()) folders.push_back(folder);
  }
  for (double px : r.face_px) band_of.push_back(band(px, {100, 150, 200}));
  if (folders.size() > 1) r.by_folder = group_rows(r, folder_of, folders);
  r.by_size = group_rows(r, band_of, {"< 100", "100-150", "150-200", ">= 200"});
}

// NME_c of ours and dlib's on the same faces (those the detector found).
void curves_vs_dlib(EvalReport& r, const std::vector<PartErrors>& dlib_parts) {
  if (dlib_parts.empty()) return;
  std::vector<PartErrors> ours_found, dlib_found;
  for (size_t i = 0; i < r.detected.size(); ++i) {
    if (!r.detected[i]) continue;
    ours_found.push_back(r.ours.parts[i]);
    dlib_found.push_back(dlib_parts[i]);
  }
  if (!ours_found.empty())
    r.curves_vs_dlib.emplace(mean_part_errors(ours_found), mean_part_errors(dlib_found));
}

}  // namespace

EvalReport run_eval(const EvalRequest& rq, const std::function<void(int, int)>& on_pass) {
  EvalReport r;
  r.request = rq;
  std::vector<Aligner> models;
  for (const std::string& file : rq.models) {
    models.push_back(load_model(file));
    models.back()->to(parse_device(rq.device));
    r.names += (r.names.empty() ? "" : " + ") + file;
    r.calibrations +=
        (r.calibrations.empty() ? "" : "; ") + describe_calibration(models.back()->config().calibration);
  }
  if (models.empty()) throw std::runtime_error("eval: no model");
  if (rq.data.empty())
    throw std::runtime_error("no data folder: give -d DIR (a folder of 300-W style faces) or set LDDMM_DATA");
  r.calibrated = !models.front()->config().calibration.empty();
  r.use_dlib = rq.boxes == "dlib" || rq.vs_dlib;
  EvalFaces f = eval_faces(models, rq, r.use_dlib);
  const FaceDataset& set = f.sets.front();
  for (size_t i = 0; i < set.size(); ++i) {
    const bool found = !r.use_dlib || f.detections[i].has_value();
    r.detected.push_back(found);
    r.missed += found ? 0 : 1;
  }
  std::vector<EvalMember> members;
  for (size_t m = 0; m < models.size(); ++m)
    members.push_back({models[m], &f.sets[m], rq.boxes == "dlib" ? &f.boxes[m] : nullptr});
  r.ours = evaluate(members, 32, rq.flip, rq.refine, rq.alternate, on_pass);
  std::vector<PartErrors> dlib_parts;
  if (rq.vs_dlib) dlib_parts = dlib_baseline(r, f, models.front()->scheme());
  miss_cost(r);
  per_face(r, set);
  curves_vs_dlib(r, dlib_parts);
  return r;
}

}  // namespace lddmm
