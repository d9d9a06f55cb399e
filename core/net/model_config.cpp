// A model's configuration as JSON (the model file's header and the training configurations' "model").
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lddmm/net/model.hpp"

namespace lddmm {
namespace {

using json = nlohmann::json;

// A whole number in [lo, hi]: anything else (a float such as 1e99, whose conversion to int is undefined, or a
// size that would build a network of gigabytes) is refused.
int whole(const json& v, int lo, int hi) {
  if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi)
    throw std::runtime_error("expected a whole number from " + std::to_string(lo) + " to " +
                             std::to_string(hi) + ", got " + v.dump());
  return static_cast<int>(v.get<int64_t>());
}

}  // namespace

std::string to_json(const AlignerConfig& c) {
  json j;
  j["backbone"] = {{"width", c.backbone.width},
                   {"modules", c.backbone.modules},
                   {"blocks", c.backbone.blocks},
                   {"stem_blocks", c.backbone.stem_blocks},
                   {"stem_width", c.backbone.stem_width}};
  j["input_size"] = c.input_size;
  j["head"] = c.head == Head::Lddmm ? "lddmm" : "coordinates";
  j["flow"] = {{"integrator", integrator_name(c.flow.integrator)},
               {"steps", c.flow.steps},
               {"shooting", c.flow.shooting}};
  if (c.kernel_scale != 1.0) j["flow"]["kernel_scale"] = c.kernel_scale;  // older files: the rule as it is
  j["mean"] = c.mean;
  j["std"] = c.std;
  // Written only when used, so that the paper's head keeps its configuration text (older files).
  const auto write = [&](const char* key, const LocalHeadConfig& l) {
    if (l.channels > 0) j[key] = {{"channels", l.channels}, {"grid", l.grid}, {"spacing", l.spacing}};
  };
  write("local", c.local);
  write("cascade", c.cascade);
  if (c.detail.factor != 1 || c.detail.patch > 0)
    j["detail"] = {{"factor", c.detail.factor},
                   {"patch", c.detail.patch},
                   {"channels", c.detail.channels},
                   {"spacing", c.detail.spacing}};
  if (c.refine.patch > 0)
    j["refine"] = {{"patch", c.refine.patch}, {"channels", c.refine.channels}, {"spacing", c.refine.spacing}};
  if (!c.confidence.empty()) j["confidence"] = {{"weight", c.confidence.weight}, {"bias", c.confidence.bias}};
  if (!c.calibration.empty()) {
    j["calibration"] = {{"direct", c.calibration.direct}, {"mirrored", c.calibration.mirrored}};
    if (c.calibration.has_image_term()) {  // older files have only the crop-pixel part
      j["calibration"]["direct_image"] = c.calibration.direct_image;
      j["calibration"]["mirrored_image"] = c.calibration.mirrored_image;
    }
  }
  return j.dump();
}

namespace {

// The bounds every configuration must keep, whatever file it came from.
void check_config(const AlignerConfig& c, const std::string& origin) {
  // a multiple of 16: the stem (stride 4) and the first two downsamplings give whole sizes; the 1/32 branch
  // rounds up (144 px: 36, 18, 9, 5), the same way on every path to it, and the fusion resamples to exact
  // sizes
  if (c.input_size < 32 || c.input_size % 16 != 0)
    throw ModelError(origin + ": input_size must be a multiple of 16, at least 32");
  const DetailConfig& d = c.detail;
  if (d.factor < 1 || d.factor > 4 || c.input_size % (16 * d.factor) != 0 || c.input_size / d.factor < 32)
    throw ModelError(origin +
                     ": detail.factor must be 1..4 with input_size / factor a multiple of 16, at least 32");
  for (const DetailConfig* w : {&c.detail, &c.refine})
    if (w->patch < 0 || w->patch > 64 || w->patch % 4 != 0 || w->channels < 1 || w->channels > 64 ||
        !(w->spacing > 0) || w->spacing > 0.1)
      throw ModelError(origin +
                       ": the detail and refine terms need patch 0..64 (a multiple of 4), channels 1..64 and "
                       "spacing in (0, 0.1]");
  if (c.refine.patch > 0 && c.detail.patch == 0)
    throw ModelError(origin + ": the refine term needs the detail term (detail.patch > 0)");
  if (!(c.kernel_scale >= 0.05 && c.kernel_scale <= 4))
    throw ModelError(origin + ": flow.kernel_scale must be in [0.05, 4]");
  for (const LocalHeadConfig* l : {&c.local, &c.cascade})
    if (l->channels < 0 || l->grid < 1 || l->grid > 9 || !(l->spacing >= 0) || l->spacing > 0.5)
      throw ModelError(origin + ": local and cascade terms need channels >= 0, grid 1..9 and spacing 0..0.5");
  for (const double v : {c.calibration.direct[0], c.calibration.direct[1], c.calibration.mirrored[0],
                         c.calibration.mirrored[1]})
    if (!std::isfinite(v) || std::abs(v) > 0.1 * c.input_size)
      throw ModelError(origin + ": calibration offsets must be finite and under a tenth of the input size");
  for (const double v : {c.calibration.direct_image[0], c.calibration.direct_image[1],
                         c.calibration.mirrored_image[0], c.calibration.mirrored_image[1]})
    if (!std::isfinite(v) || std::abs(v) > 16)
      throw ModelError(origin + ": calibration offsets in image pixels must be finite and under 16");
  const ConfidenceHead& h = c.confidence;
  if (!std::isfinite(h.bias) ||
      std::any_of(h.weight.begin(), h.weight.end(), [](double w) { return !std::isfinite(w); }))
    throw ModelError(origin + ": confidence head weights must be finite");
  if (!h.empty() && static_cast<int>(h.weight.size()) != 15 * c.backbone.width)
    throw ModelError(origin + ": a confidence head needs 15 × backbone width weights");
}

}  // namespace

AlignerConfig aligner_config_from_json(const std::string& text, const std::string& origin) {
  AlignerConfig c;
  try {
    const json j = json::parse(text);
    const json& b = j.at("backbone");
    c.backbone.width = whole(b.at("width"), 1, 256);
    for (size_t k = 0; k < 3; ++k) c.backbone.modules[k] = whole(b.at("modules").at(k), 0, 16);
    c.backbone.blocks = whole(b.at("blocks"), 1, 32);
    c.backbone.stem_blocks = whole(b.at("stem_blocks"), 0, 32);
    c.backbone.stem_width = whole(b.at("stem_width"), 1, 1024);
    c.input_size = whole(j.at("input_size"), 32, 2048);
    const std::string head = j.at("head").get<std::string>();
    if (head != "lddmm" && head != "coordinates") throw std::runtime_error("unknown head \"" + head + "\"");
    c.head = head == "lddmm" ? Head::Lddmm : Head::Coordinates;
    const json& f = j.at("flow");
    const auto integ = parse_integrator(f.at("integrator").get<std::string>());
    if (!integ) throw std::runtime_error("unknown integrator");
    c.flow = {*integ, whole(f.at("steps"), 1, 100), f.at("shooting").get<bool>()};
    c.kernel_scale = f.value("kernel_scale", 1.0);
    c.mean = j.at("mean").get<std::array<double, 3>>();
    c.std = j.at("std").get<std::array<double, 3>>();
    const auto read = [&](const char* key, LocalHeadConfig& l) {
      if (!j.contains(key)) return;
      const json& o = j.at(key);
      l.channels = whole(o.at("channels"), 0, 1024);
      l.grid = o.contains("grid") ? whole(o.at("grid"), 1, 9) : l.grid;
      l.spacing = o.value("spacing", l.spacing);
    };
    read("local", c.local);
    read("cascade", c.cascade);
    const auto read_window = [&](const char* key, DetailConfig& d) {
      if (!j.contains(key)) return;
      const json& o = j.at(key);
      d.factor = o.contains("factor") ? whole(o.at("factor"), 1, 4) : d.factor;
      d.patch = o.contains("patch") ? whole(o.at("patch"), 0, 64) : d.patch;
      d.channels = o.contains("channels") ? whole(o.at("channels"), 1, 64) : d.channels;
      d.spacing = o.value("spacing", d.spacing);
    };
    read_window("detail", c.detail);
    read_window("refine", c.refine);
    if (j.contains("calibration")) {
      const json& k = j.at("calibration");
      c.calibration.direct = k.at("direct").get<std::array<double, 2>>();
      c.calibration.mirrored = k.at("mirrored").get<std::array<double, 2>>();
      c.calibration.direct_image = k.value("direct_image", c.calibration.direct_image);
      c.calibration.mirrored_image = k.value("mirrored_image", c.calibration.mirrored_image);
    }
    if (j.contains("confidence")) {
      c.confidence.weight = j.at("confidence").at("weight").get<std::vector<double>>();
      c.confidence.bias = j.at("confidence").at("bias").get<double>();
    }
  } catch (const std::exception& e) {
    throw ModelError(origin + ": bad model configuration (" + e.what() + ")");
  }
  check_config(c, origin);
  return c;
}

}  // namespace lddmm
