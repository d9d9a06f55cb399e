#include "lddmm/flow/scheme.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <type_traits>

namespace lddmm {
namespace {

using json = nlohmann::json;

constexpr std::array<const char*, kNumParts> kPartNames = {"contour", "brows", "nose", "eyes", "mouth"};
constexpr std::array<char, kNumParts> kPartLetters = {'F', 'E', 'N', 'I', 'M'};

[[noreturn]] void fail(const std::string& origin, const std::string& what) {
  throw SchemeError(origin + ": " + what);
}

}  // namespace

const char* part_name(Part part) { return kPartNames[static_cast<size_t>(part)]; }
char part_letter(Part part) { return kPartLetters[static_cast<size_t>(part)]; }

std::optional<Part> parse_part(const std::string& name) {
  for (int p = 0; p < kNumParts; ++p) {
    if (name == kPartNames[static_cast<size_t>(p)]) return static_cast<Part>(p);
  }
  return std::nullopt;
}

std::vector<int> Scheme::point_curve() const {
  std::vector<int> owner(static_cast<size_t>(num_points), -1);
  for (size_t c = 0; c < curves.size(); ++c) {
    for (int p : curves[c].points) owner[static_cast<size_t>(p)] = static_cast<int>(c);
  }
  return owner;
}

std::vector<Part> Scheme::point_parts() const {
  std::vector<Part> parts(static_cast<size_t>(num_points), Part::Contour);
  for (const Curve& c : curves) {
    for (int p : c.points) parts[static_cast<size_t>(p)] = c.part;
  }
  return parts;
}

Points Scheme::curve_points(int c) const {
  if (mean_face.points.rows() != num_points) throw SchemeError("scheme " + id + " has no mean face");
  const Curve& curve = curves.at(static_cast<size_t>(c));
  Points out(static_cast<Eigen::Index>(curve.points.size()), 2);
  for (size_t k = 0; k < curve.points.size(); ++k) {
    out.row(static_cast<Eigen::Index>(k)) = mean_face.points.row(curve.points[k]);
  }
  return out;
}

double sigma_for_curve(const Points& pts, double frame) {
  if (pts.rows() < 2) return kSingleSigma * frame;
  double diameter = 0;
  for (Eigen::Index i = 0; i < pts.rows(); ++i) {
    for (Eigen::Index j = i + 1; j < pts.rows(); ++j)
      diameter = std::max(diameter, (pts.row(i) - pts.row(j)).norm());
  }
  return diameter > 0 ? kSigmaScale * diameter : kSingleSigma * frame;
}

std::vector<double> Scheme::sigma_v() const {
  std::vector<double> s;
  s.reserve(curves.size());
  for (size_t c = 0; c < curves.size(); ++c) {
    s.push_back(sigma_for_curve(curve_points(static_cast<int>(c)), mean_face.frame));
  }
  return s;
}

std::vector<double> Scheme::sigma_w() const {
  std::vector<double> s = sigma_v();
  for (double& v : s) v *= 0.5;
  return s;
}

void validate(const Scheme& s, const std::string& origin) {
  if (s.id.empty()) fail(origin, "the scheme has no id");
  if (s.num_points <= 0) fail(origin, "\"points\" must be a positive count");
  const auto in_range = [&](int i) { return i >= 0 && i < s.num_points; };
  if (s.curves.empty()) fail(origin, "the scheme has no curves");
  std::vector<int> owner(static_cast<size_t>(s.num_points), -1);
  for (size_t c = 0; c < s.curves.size(); ++c) {
    const Curve& curve = s.curves[c];
    const std::string where = "curve " + std::to_string(c) + " (" + curve.name + ")";
    if (curve.points.empty()) fail(origin, where + " is empty");
    for (int p : curve.points) {
      if (!in_range(p))
        fail(origin, where + ": point index " + std::to_string(p) + " is out of range [0, " +
                         std::to_string(s.num_points) + ")");
      if (owner[static_cast<size_t>(p)] >= 0)
        fail(origin, where + ": point " + std::to_string(p) + " is already in curve " +
                         std::to_string(owner[static_cast<size_t>(p)]));
      owner[static_cast<size_t>(p)] = static_cast<int>(c);
    }
  }
  for (int p = 0; p < s.num_points; ++p) {
    if (owner[static_cast<size_t>(p)] < 0) fail(origin, "point " + std::to_string(p) + " is in no curve");
  }
  if (static_cast<int>(s.mirror.size()) != s.num_points)
    fail(origin, "\"mirror\" has " + std::to_string(s.mirror.size()) + " entries, expected " +
                     std::to_string(s.num_points));
  for (int p = 0; p < s.num_points; ++p) {
    const int m = s.mirror[static_cast<size_t>(p)];
    if (!in_range(m))
      fail(origin, "\"mirror\"[" + std::to_string(p) + "] = " + std::to_string(m) + " is out of range");
    if (s.mirror[static_cast<size_t>(m)] != p)
      fail(origin, "\"mirror\" is not an involution: " + std::to_string(p) + " -> " + std::to_string(m) +
                       " -> " + std::to_string(s.mirror[static_cast<size_t>(m)]));
  }
  if (!in_range(s.normalisation[0]) || !in_range(s.normalisation[1]) ||
      s.normalisation[0] == s.normalisation[1])
    fail(origin, "\"normalisation\" must be two distinct point indices in range");
  if (s.mean_face.points.rows() != 0) {
    if (s.mean_face.points.rows() != s.num_points)
      fail(origin, "the mean face has " + std::to_string(s.mean_face.points.rows()) + " points, expected " +
                       std::to_string(s.num_points));
    if (!s.mean_face.points.allFinite()) fail(origin, "the mean face has non-finite coordinates");
    if (!(s.mean_face.frame > 0)) fail(origin, "the mean face frame must be positive");
  }
  if (s.subset_of && static_cast<int>(s.subset_of->indices.size()) != s.num_points)
    fail(origin, "\"subset_of\" must list one parent index per point");
  if (s.derived_from && s.derived_from->polylines.size() != s.curves.size())
    fail(origin, "\"derived_from\" must give one polyline per curve");
}

namespace {

// An index: a JSON integer within int's range (a float such as 1e99 is not converted: that is undefined).
bool is_index(const json& v) {
  return v.is_number_integer() && v.get<int64_t>() >= std::numeric_limits<int>::min() &&
         v.get<int64_t>() <= std::numeric_limits<int>::max();
}

template <typename T>
bool indices_ok(const json& v) {
  if constexpr (std::is_same_v<T, int>) return is_index(v);
  if constexpr (std::is_same_v<T, std::vector<int>>)
    return v.is_array() && std::all_of(v.begin(), v.end(), is_index);
  return true;
}

template <typename T>
T get(const json& j, const char* key, const std::string& origin) {
  if (!j.is_object() || !j.contains(key)) fail(origin, std::string("missing field \"") + key + "\"");
  if (!indices_ok<T>(j.at(key))) fail(origin, std::string("field \"") + key + "\" must hold integer indices");
  try {
    return j.at(key).get<T>();
  } catch (const json::exception& e) {
    fail(origin, std::string("field \"") + key + "\" has the wrong type (" + e.what() + ")");
  }
}

BlendVertex parse_vertex(const json& v, const std::string& origin) {
  if (is_index(v)) {
    const int i = v.get<int>();
    return {i, i, 0.0};
  }
  if (v.is_array() && v.size() == 3 && is_index(v[0]) && is_index(v[1]) && v[2].is_number())
    return {v[0].get<int>(), v[1].get<int>(), v[2].get<double>()};
  fail(origin, "a derivation vertex must be an index or [i, j, t]");
}

Scheme parse_scheme_json(const std::string& text, const std::string& origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    fail(origin, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) fail(origin, "the top level must be a JSON object");
  Scheme s;
  s.id = get<std::string>(j, "id", origin);
  s.name = j.value("name", s.id);
  s.description = j.value("description", "");
  s.num_points = get<int>(j, "points", origin);
  if (!j.contains("curves") || !j["curves"].is_array()) fail(origin, "missing array \"curves\"");
  for (const json& jc : j["curves"]) {
    Curve c;
    c.name = jc.value("name", "");
    c.points = get<std::vector<int>>(jc, "points", origin);
    c.closed = jc.value("closed", false);
    const std::string part = get<std::string>(jc, "part", origin);
    const auto parsed = parse_part(part);
    if (!parsed)
      fail(origin,
           "curve \"" + c.name + "\": unknown part \"" + part + "\" (contour, brows, nose, eyes, mouth)");
    c.part = *parsed;
    s.curves.push_back(std::move(c));
  }
  s.mirror = get<std::vector<int>>(j, "mirror", origin);
  const auto norm = get<std::vector<int>>(j, "normalisation", origin);
  if (norm.size() != 2) fail(origin, "\"normalisation\" must hold two indices");
  s.normalisation = {norm[0], norm[1]};
  if (j.contains("mean_face")) {
    const json& m = j["mean_face"];
    s.mean_face.frame = m.value("frame", 256.0);
    s.mean_face.provisional = m.value("provisional", false);
    s.mean_face.source = m.value("source", "");
    const auto pts = get<std::vector<std::vector<double>>>(m, "points", origin);
    s.mean_face.points.resize(static_cast<Eigen::Index>(pts.size()), 2);
    for (size_t i = 0; i < pts.size(); ++i) {
      if (pts[i].size() != 2) fail(origin, "mean face point " + std::to_string(i) + " must be [x, y]");
      s.mean_face.points(static_cast<Eigen::Index>(i), 0) = pts[i][0];
      s.mean_face.points(static_cast<Eigen::Index>(i), 1) = pts[i][1];
    }
  }
  if (j.contains("subset_of")) {
    const json& sj = j["subset_of"];
    s.subset_of =
        Subset{get<std::string>(sj, "parent", origin), get<std::vector<int>>(sj, "indices", origin)};
  }
  if (j.contains("derived_from")) {
    const json& dj = j["derived_from"];
    Derivation d;
    d.parent = get<std::string>(dj, "parent", origin);
    if (!dj.contains("polylines") || !dj["polylines"].is_array())
      fail(origin, "\"derived_from\" needs \"polylines\"");
    for (const json& pl : dj["polylines"]) {
      std::vector<BlendVertex> poly;
      for (const json& v : pl) poly.push_back(parse_vertex(v, origin));
      if (poly.empty()) fail(origin, "a derivation polyline is empty");
      d.polylines.push_back(std::move(poly));
    }
    s.derived_from = std::move(d);
  }
  validate(s, origin);
  return s;
}

}  // namespace

Scheme parse_scheme(const std::string& text, const std::string& origin) {
  try {
    return parse_scheme_json(text, origin);
  } catch (const json::exception& e) {  // a field of the wrong kind where a default was allowed
    fail(origin, std::string("a field has the wrong type (") + e.what() + ")");
  }
}

std::string scheme_to_json(const Scheme& s) {
  json j;
  j["id"] = s.id;
  j["name"] = s.name;
  j["description"] = s.description;
  j["points"] = s.num_points;
  json curves = json::array();
  for (const Curve& c : s.curves) {
    curves.push_back(
        {{"name", c.name}, {"part", part_name(c.part)}, {"closed", c.closed}, {"points", c.points}});
  }
  j["curves"] = curves;
  j["mirror"] = s.mirror;
  j["normalisation"] = {s.normalisation[0], s.normalisation[1]};
  if (s.subset_of) j["subset_of"] = {{"parent", s.subset_of->parent}, {"indices", s.subset_of->indices}};
  if (s.derived_from) {
    json polys = json::array();
    for (const auto& poly : s.derived_from->polylines) {
      json pl = json::array();
      for (const BlendVertex& v : poly) {
        if (v.i == v.j || v.t == 0.0) {
          pl.push_back(v.i);
        } else {
          pl.push_back({v.i, v.j, v.t});
        }
      }
      polys.push_back(pl);
    }
    j["derived_from"] = {{"parent", s.derived_from->parent}, {"polylines", polys}};
  }
  if (s.mean_face.points.rows() > 0) {
    json pts = json::array();
    for (Eigen::Index i = 0; i < s.mean_face.points.rows(); ++i) {
      // 1e-4 px is far below annotation noise and keeps the files readable.
      pts.push_back({std::round(s.mean_face.points(i, 0) * 1e4) / 1e4,
                     std::round(s.mean_face.points(i, 1) * 1e4) / 1e4});
    }
    j["mean_face"] = {{"frame", s.mean_face.frame},
                      {"provisional", s.mean_face.provisional},
                      {"source", s.mean_face.source},
                      {"points", pts}};
  }
  return j.dump(1);
}

Scheme dense_scheme(const Scheme& s, int factor) {
  if (factor < 1) throw SchemeError("dense_scheme: factor must be ≥ 1");
  if (s.mean_face.points.rows() != s.num_points)
    throw SchemeError("dense_scheme: scheme " + s.id + " has no mean face");
  if (factor == 1) return s;
  Scheme d = s;
  d.id = s.id + "@" + std::to_string(factor);
  d.name = s.name + " (dense ×" + std::to_string(factor) + ")";
  d.description = "Curves of " + s.id + " resampled: " + std::to_string(factor - 1) +
                  " points inserted between neighbours on the mean face.";
  d.subset_of.reset();
  d.derived_from.reset();
  std::vector<Eigen::RowVector2d> extra;
  // inserted[(a,b)] = new point indices between a and b, in the a→b direction
  std::map<std::pair<int, int>, std::vector<int>> inserted;
  int next = s.num_points;
  for (size_t c = 0; c < s.curves.size(); ++c) {
    const Curve& curve = s.curves[c];
    std::vector<int> pts;
    const size_t n = curve.points.size();
    const size_t nseg = curve.closed && n > 2 ? n : n - 1;
    for (size_t k = 0; k < n; ++k) {
      pts.push_back(curve.points[k]);
      if (k >= nseg) continue;
      const int a = curve.points[k];
      const int b = curve.points[(k + 1) % n];
      std::vector<int> ids;
      for (int f = 1; f < factor; ++f) {
        const double u = static_cast<double>(f) / factor;
        extra.push_back((1 - u) * s.mean_face.points.row(a) + u * s.mean_face.points.row(b));
        ids.push_back(next);
        pts.push_back(next++);
      }
      inserted[{a, b}] = ids;
    }
    d.curves[c].points = pts;
  }
  d.num_points = next;
  d.mean_face.points.resize(next, 2);
  d.mean_face.points.topRows(s.num_points) = s.mean_face.points;
  for (size_t k = 0; k < extra.size(); ++k)
    d.mean_face.points.row(s.num_points + static_cast<Eigen::Index>(k)) = extra[k];
  d.mean_face.source = s.mean_face.source + "; dense ×" + std::to_string(factor);
  // Mirror: an inserted point mirrors the point at the same fraction of the mirrored segment. Segments
  // whose mirror is not a segment (the jaw halves meet at the chin) map to themselves.
  d.mirror.assign(static_cast<size_t>(next), -1);
  for (int i = 0; i < s.num_points; ++i) d.mirror[static_cast<size_t>(i)] = s.mirror[static_cast<size_t>(i)];
  for (const auto& [seg, ids] : inserted) {
    const int ma = s.mirror[static_cast<size_t>(seg.first)];
    const int mb = s.mirror[static_cast<size_t>(seg.second)];
    for (size_t k = 0; k < ids.size(); ++k) {
      int m = ids[k];
      if (auto it = inserted.find({ma, mb}); it != inserted.end()) {
        m = it->second[k];
      } else if (auto rt = inserted.find({mb, ma}); rt != inserted.end()) {
        m = rt->second[ids.size() - 1 - k];
      }
      d.mirror[static_cast<size_t>(ids[k])] = m;
    }
  }
  for (int i = s.num_points; i < next; ++i) {
    if (d.mirror[static_cast<size_t>(d.mirror[static_cast<size_t>(i)])] != i)
      d.mirror[static_cast<size_t>(i)] = i;
  }
  validate(d, d.id);
  return d;
}

Points derive_mean_face(const Scheme& s, const Scheme& parent) {
  if (!s.derived_from) throw SchemeError("scheme " + s.id + " has no \"derived_from\" table");
  if (parent.mean_face.points.rows() != parent.num_points)
    throw SchemeError("parent scheme " + parent.id + " has no mean face");
  Points out(s.num_points, 2);
  for (size_t c = 0; c < s.curves.size(); ++c) {
    const auto& poly = s.derived_from->polylines[c];
    Points verts(static_cast<Eigen::Index>(poly.size()), 2);
    for (size_t k = 0; k < poly.size(); ++k) {
      const BlendVertex& v = poly[k];
      if (v.i < 0 || v.j < 0 || v.i >= parent.num_points || v.j >= parent.num_points)
        throw SchemeError("scheme " + s.id + ": derivation vertex index out of range of " + parent.id);
      verts.row(static_cast<Eigen::Index>(k)) =
          (1 - v.t) * parent.mean_face.points.row(v.i) + v.t * parent.mean_face.points.row(v.j);
    }
    const Curve& curve = s.curves[c];
    // As many vertices as points: the vertices are the points. Otherwise uniform arc-length placement.
    const Points placed = verts.rows() == static_cast<Eigen::Index>(curve.points.size())
                              ? verts
                              : resample_polyline(verts, static_cast<int>(curve.points.size()), curve.closed);
    for (size_t k = 0; k < curve.points.size(); ++k)
      out.row(curve.points[k]) = placed.row(static_cast<Eigen::Index>(k));
  }
  return out;
}

void add_view(Points& mean, std::vector<double>& count, const Points& view, const std::vector<int>& partners,
              bool mirrored) {
  const auto n = static_cast<size_t>(view.rows());
  if (count.size() != n || partners.size() != n)
    throw std::invalid_argument("add_view: the view, the counts and the partners differ in size");
  if (mean.rows() != view.rows()) mean = Points::Zero(view.rows(), 2);
  for (size_t q = 0; q < n; ++q) {
    if (mirrored && partners[q] < 0) continue;
    count[q] += 1;
    const auto row = static_cast<Eigen::Index>(q);
    mean.row(row) += (view.row(row) - mean.row(row)) / count[q];
  }
}

}  // namespace lddmm
