// eval_report.hpp's outputs: the text `eval` prints, its JSON, the per-face CSV and the points file.
#include <nlohmann/json.hpp>

#include <fstream>
#include <stdexcept>

#include "lddmm/train/eval_report.hpp"

namespace lddmm {
namespace {

using json = nlohmann::json;

json parts_json(const PartErrors& e) {
  const auto& p = e.part;
  return {{"O", e.overall}, {"F", p[0]}, {"E", p[1]}, {"N", p[2]}, {"I", p[3]}, {"M", p[4]}};
}

json groups_json(const EvalReport& r, const std::vector<EvalReport::Group>& rows, const char* key) {
  json a = json::array();
  for (const EvalReport::Group& g : rows) {
    json e = {{key, g.label},
              {"faces", g.ours.faces},
              {"nme", g.ours.mean},
              {"fr_0.1", g.ours.failure},
              {"auc_0.1", g.ours.auc}};
    if (r.dlib) e["dlib"] = {{"nme", g.dlib.mean}, {"fr_0.1", g.dlib.failure}, {"auc_0.1", g.dlib.auc}};
    a.push_back(e);
  }
  return a;
}

json dense_json(const EvalResult::Dense& d) {
  json j = {{"scheme", d.scheme}, {"nme_c", parts_json(d.mean_parts)}};
  if (!d.nme.empty()) {
    j["nme"] = d.summary.mean;
    j["fr_0.1"] = d.summary.failure;
  }
  return j;
}

void print_groups(std::FILE* out, const EvalReport& r, const std::vector<EvalReport::Group>& rows,
                  const std::string& title) {
  std::fprintf(out, "%s\n", title.c_str());
  for (const EvalReport::Group& g : rows) {
    std::fprintf(out, "  %-16s %4d faces  ours %5.2f %%  FR %5.2f %%", g.label.c_str(), g.ours.faces,
                 100 * g.ours.mean, 100 * g.ours.failure);
    if (r.dlib) std::fprintf(out, "   dlib %5.2f %%  FR %5.2f %%", 100 * g.dlib.mean, 100 * g.dlib.failure);
    std::fprintf(out, "\n");
  }
}

void print_parts(std::FILE* out, const char* label, const PartErrors& e) {
  std::fprintf(out, "%sO %.2f  F %.2f  E %.2f  N %.2f  I %.2f  M %.2f\n", label, 100 * e.overall,
               100 * e.part[0], 100 * e.part[1], 100 * e.part[2], 100 * e.part[3], 100 * e.part[4]);
}

// The header lines and the main table.
void print_summary(std::FILE* out, const EvalReport& r) {
  const EvalRequest& q = r.request;
  const EvalResult& o = r.ours;
  std::fprintf(out, "%s on %s (%d faces, %.1f ms per face incl. cropping)\n", r.names.c_str(), q.list.c_str(),
               o.summary.faces, 1000 * o.seconds / std::max(1, o.summary.faces));
  std::fprintf(out, "passes: %d%s%s%s; calibration (input-crop px) %s\n", 1 + q.refine,
               q.flip ? ", each with its mirrored crop" : "",
               !q.flip && q.refine > 0
                   ? (q.alternate ? ", alternately mirrored, averaged" : ", the last one kept")
                   : "",
               q.models.size() > 1 ? ", each view the models' mean" : "", r.calibrations.c_str());
  std::fprintf(out, "%-26s %8s %8s %8s\n", "", "NME %", "FR@0.1 %", "AUC@0.1");
  std::fprintf(out, "%-26s %8.2f %8.2f %8.4f\n",
               (q.boxes == "dlib" ? "ours (dlib boxes)" : "ours (landmark boxes)"), 100 * o.summary.mean,
               100 * o.summary.failure, o.summary.auc);
  if (r.dlib)
    std::fprintf(out, "%-26s %8.2f %8.2f %8.4f\n", "dlib 68 (dlib boxes)", 100 * r.dlib->mean,
                 100 * r.dlib->failure, r.dlib->auc);
  if (r.use_dlib)
    std::fprintf(out,
                 "dlib's detector missed %d of %zu faces: those were cropped around their landmark box\n",
                 r.missed, r.detected.size());
  if (const auto& c = r.miss_cost) {
    std::fprintf(out, "on the %d faces it found: ours %.2f %%", c->ours.faces, 100 * c->ours.mean);
    if (r.dlib) std::fprintf(out, ", dlib %.2f %%", 100 * c->dlib.mean);
    std::fprintf(out, "; a miss counted as a failure makes FR@0.1 %.2f %%", 100 * c->ours_fr);
    if (r.dlib) std::fprintf(out, " (dlib %.2f %%)", 100 * c->dlib_fr);
    std::fprintf(out, "\n");
  }
}

}  // namespace

void print_eval(std::FILE* out, const EvalReport& r) {
  print_summary(out, r);
  const std::string on = r.use_dlib && r.missed > 0 ? ", on the faces the detector found" : "";
  if (!r.by_folder.empty()) print_groups(out, r, r.by_folder, "by folder" + on + ":");
  if (r.by_size.size() > 1)
    print_groups(out, r, r.by_size, "by face size (landmark box side in the photo's pixels)" + on + ":");
  print_parts(out, "NME_c %:  ", r.ours.mean_parts);
  if (r.curves_vs_dlib) {
    std::fprintf(out, "NME_c %% on the faces the detector found:\n");
    print_parts(out, "  ours  ", r.curves_vs_dlib->first);
    print_parts(out, "  dlib  ", r.curves_vs_dlib->second);
  }
  if (const auto& d = r.ours.dense) {
    std::fprintf(out, "sparse to dense, all %s points:", d->scheme.c_str());
    if (!d->nme.empty())
      std::fprintf(out, " NME_l %.2f %%  FR@0.1 %.2f %%;", 100 * d->summary.mean, 100 * d->summary.failure);
    print_parts(out, " NME_c ", d->mean_parts);
  }
  const DetJTable& dj = r.ours.detj;
  if (dj.count > 0)
    std::fprintf(out, "DetJ: DetJA %.3f  DetJN %ld  DetJAM %.3f  (%ld landmarks)\n", dj.mean_det,
                 dj.nonpositive, dj.det_of_mean, dj.count);
}

std::string eval_json(const EvalReport& r) {
  const EvalRequest& q = r.request;
  const EvalResult& o = r.ours;
  json j = {
      {"model", r.names},
      {"list", q.list},
      {"faces", o.summary.faces},
      {"nme", o.summary.mean},
      {"fr_0.1", o.summary.failure},
      {"auc_0.1", o.summary.auc},
      {"nme_c", parts_json(o.mean_parts)},
      {"detj",
       {{"mean", o.detj.mean_det}, {"nonpositive", o.detj.nonpositive}, {"of_mean", o.detj.det_of_mean}}},
      {"ms_per_face", 1000 * o.seconds / std::max(1, o.summary.faces)},
      {"boxes", q.boxes},
      {"flip", q.flip},
      {"refine", q.refine},
      {"alternate", q.alternate},
      {"calibrated", r.calibrated},
      {"detector_missed", r.missed}};
  if (r.dlib) j["dlib"] = {{"nme", r.dlib->mean}, {"fr_0.1", r.dlib->failure}, {"auc_0.1", r.dlib->auc}};
  if (o.dense) j["dense"] = dense_json(*o.dense);
  if (const auto& c = r.miss_cost) {
    j["found_faces"] = {
        {"faces", c->ours.faces}, {"nme", c->ours.mean}, {"fr_0.1_misses_failed", c->ours_fr}};
    if (r.dlib) j["found_faces"]["dlib"] = {{"nme", c->dlib.mean}, {"fr_0.1_misses_failed", c->dlib_fr}};
  }
  if (r.curves_vs_dlib)
    j["nme_c_found_faces"] = {{"ours", parts_json(r.curves_vs_dlib->first)},
                              {"dlib", parts_json(r.curves_vs_dlib->second)}};
  j["groups_on"] = r.use_dlib && r.missed > 0 ? "found_faces" : "all_faces";
  if (!r.by_folder.empty()) j["by_folder"] = groups_json(r, r.by_folder, "folder");
  j["by_face_px"] = groups_json(r, r.by_size, "face_px");
  return j.dump(2);
}

void write_eval_csv(const EvalReport& r, const std::string& path) {
  std::ofstream csv(path);
  if (!csv) throw std::runtime_error(path + ": cannot write");
  csv << "face,nme" << (r.use_dlib ? ",detected" : "") << (r.dlib_errors.empty() ? "" : ",dlib_nme")
      << ",face_px,dx,dy" << (r.dlib_offset.empty() ? "" : ",dlib_dx,dlib_dy") << '\n';
  for (size_t k = 0; k < r.ours.names.size(); ++k) {
    csv << r.ours.names[k] << ',' << r.ours.nme[k];
    if (r.use_dlib) csv << ',' << (r.detected[k] ? 1 : 0);
    if (!r.dlib_errors.empty()) csv << ',' << r.dlib_errors[k];
    csv << ',' << r.face_px[k] << ',' << r.offset[k].x() << ',' << r.offset[k].y();
    if (!r.dlib_offset.empty()) csv << ',' << r.dlib_offset[k].x() << ',' << r.dlib_offset[k].y();
    csv << '\n';
  }
}

void write_eval_points(const EvalReport& r, const std::string& path) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error(path + ": cannot write");
  out << "face,by";
  for (Eigen::Index k = 0; k < (r.photo_points.empty() ? 0 : r.photo_points.front().rows()); ++k)
    out << ",x" << k << ",y" << k;
  out << '\n';
  out.precision(7);
  const auto row = [&out](const std::string& name, const char* by, const Points& photo) {
    out << name << ',' << by;
    for (Eigen::Index k = 0; k < photo.rows(); ++k) out << ',' << photo(k, 0) << ',' << photo(k, 1);
    out << '\n';
  };
  for (size_t i = 0; i < r.ours.names.size(); ++i) {
    row(r.ours.names[i], "ours", r.photo_points[i]);
    if (!r.dlib_points.empty()) row(r.ours.names[i], "dlib", r.dlib_points[i]);
  }
}

}  // namespace lddmm
