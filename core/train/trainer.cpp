#include "lddmm/train/trainer.hpp"

#include <torch/torch.h>

#include <ATen/Context.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "lddmm/flow/correspondence.hpp"
#include "lddmm/flow/loss.hpp"
#include "lddmm/flow/register.hpp"
#include "lddmm/flow/tensor_points.hpp"
#include "lddmm/io/progress.hpp"
#include "lddmm/io/scheme_files.hpp"
#include "lddmm/net/device.hpp"
#include "lddmm/net/predict.hpp"
#include "lddmm/train/dataset.hpp"

namespace lddmm {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

}  // namespace

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(AugmentOptions, enabled, mirror, rotation_deg, scale,
                                                translation, colour, blur_probability, occlusion_probability,
                                                mirror_x_offset, upright)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TrainOptions, epochs, batch_size, learning_rate,
                                                warmup_epochs, weight_decay, beta, point_weighted_loss,
                                                ema_decay, seed, threads, augment, teacher, teacher_weight,
                                                teacher_mirror, teacher_refine, grow_scale,
                                                time_budget_minutes, loader_threads, detail_lr_scale,
                                                detail_only, refine_only)

namespace {

std::string hms(double seconds) {
  const long s = static_cast<long>(seconds);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

// A setting as a person wrote it: 0.5, 55 (not 0.500000).
std::string setting(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

std::vector<torch::Tensor> WeightAverage::tensors(torch::nn::Module& module) {
  std::vector<torch::Tensor> t;
  for (const auto& p : module.named_parameters()) t.push_back(p.value());
  for (const auto& b : module.named_buffers()) t.push_back(b.value());
  return t;
}

WeightAverage::WeightAverage(torch::nn::Module& module, double decay) : decay_(decay) {
  if (!(decay >= 0 && decay < 1)) throw std::invalid_argument("weight averaging: decay must be in [0, 1)");
  torch::NoGradGuard no_grad;
  for (const auto& t : tensors(module)) values_.push_back(t.detach().clone());
}

void WeightAverage::update(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  const auto current = tensors(module);
  if (current.size() != values_.size()) throw std::logic_error("weight averaging: the module changed");
  for (size_t i = 0; i < current.size(); ++i) {
    if (torch::isFloatingType(values_[i].scalar_type()))
      values_[i].mul_(decay_).add_(current[i].detach(), 1 - decay_);
    else
      values_[i].copy_(current[i]);
  }
}

void WeightAverage::swap(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  const auto current = tensors(module);
  if (current.size() != values_.size()) throw std::logic_error("weight averaging: the module changed");
  for (size_t i = 0; i < current.size(); ++i) {
    torch::Tensor keep = current[i].detach().clone();
    current[i].copy_(values_[i]);
    values_[i] = keep;
  }
}

namespace {

// Every field of `given` is one of `defaults`' (a typo is an error, not a silent default), and a whole number
// where the default is one (a float such as 1e99 is not converted: that is undefined).
void check_fields(const json& given, const json& defaults, const std::string& path) {
  if (!given.is_object()) throw std::runtime_error("\"" + path + "\" must be an object");
  for (const auto& [key, value] : given.items()) {
    const std::string name = path.empty() ? key : path + "." + key;
    if (!defaults.contains(key)) throw std::runtime_error("unknown field \"" + name + "\"");
    const json& d = defaults.at(key);
    if ((d.is_number_integer() && !value.is_number_integer()) || (d.is_boolean() && !value.is_boolean()))
      throw std::runtime_error("\"" + name + "\" must be " +
                               (d.is_boolean() ? "true or false" : "a whole number"));
    if (d.is_object()) check_fields(value, d, name);
  }
}

}  // namespace

TrainConfig load_train_config(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error(file.string() + ": cannot open the training configuration");
  TrainConfig c;
  try {
    const json j = json::parse(in);
    const json top = {{"scheme", c.scheme},
                      {"annotation", c.annotation},
                      {"model", json::object()},
                      {"train", json::object()}};
    for (const auto& [key, value] : j.items())
      if (!top.contains(key)) throw std::runtime_error("unknown field \"" + key + "\"");
    if (j.contains("train")) check_fields(j["train"], json(c.train), "train");
    c.scheme = j.value("scheme", c.scheme);
    c.annotation = j.value("annotation", c.annotation);
    if (j.contains("model")) {
      // Fill missing model fields from the defaults, then reuse the model file's parser.
      json m = json::parse(to_json(c.model));
      m.merge_patch(j["model"]);
      c.model = aligner_config_from_json(m.dump(), file.string());
    }
    // Missing fields keep their defaults.
    if (j.contains("train")) j["train"].get_to(c.train);
  } catch (const ModelError&) {
    throw;
  } catch (const std::exception& e) {
    throw std::runtime_error(file.string() + ": bad training configuration (" + e.what() + ")");
  }
  if (c.train.epochs < 1 || c.train.batch_size < 1 || !(c.train.learning_rate > 0))
    throw std::runtime_error(file.string() + ": epochs, batch_size and learning_rate must be positive");
  return c;
}

torch::Tensor resize_crops(const torch::Tensor& images, int size) {
  if (images.size(3) == size) return images;
  namespace F = torch::nn::functional;
  return F::interpolate(images, F::InterpolateFuncOptions()
                                    .size(std::vector<int64_t>{size, size})
                                    .mode(torch::kBilinear)
                                    .align_corners(false)
                                    .antialias(size < images.size(3)));
}

torch::Tensor teacher_targets(Aligner& teacher, const torch::Tensor& images, const torch::Tensor& points,
                              double weight, bool mirror, const torch::Tensor& image_to_crop) {
  torch::NoGradGuard no_grad;
  const int T = teacher->config().input_size;
  const double L = static_cast<double>(images.size(3));
  const torch::Tensor in = resize_crops(images, T);
  // The maps to the teacher's crops: those to the crops of side L, scaled by T / L.
  const torch::Tensor to_t =
      image_to_crop.defined() ? image_to_crop.to(in.device()) * (T / L) : image_to_crop;
  Predictor predictor(teacher);
  const torch::Tensor pred =
      predictor.landmarks(predictor.run(in, mirror ? Views::Both : Views::Direct, to_t));
  // resize_crops samples at pixel centres (align_corners false): x_L + ½ = (x_T + ½)·L/T.
  const torch::Tensor back = (pred.to(points.scalar_type()) + 0.5) * (L / T) - 0.5;
  return (1 - weight) * points + weight * back;
}

torch::Tensor resample_crops(const torch::Tensor& images, const torch::Tensor& view_to_crop, int size) {
  namespace F = torch::nn::functional;
  if (images.dim() != 4 || view_to_crop.dim() != 3 || view_to_crop.size(0) != images.size(0) ||
      view_to_crop.size(1) != 2 || view_to_crop.size(2) != 3 || size < 1)
    throw std::invalid_argument("resample_crops: images [B, C, H, W] and maps [B, 2, 3] are needed");
  const auto opts = images.options();
  const torch::Tensor r = torch::arange(size, opts);
  const torch::Tensor gy = r.view({size, 1}).expand({size, size});
  const torch::Tensor gx = r.view({1, size}).expand({size, size});
  const torch::Tensor q = torch::stack({gx, gy, torch::ones_like(gx)}, -1).view({1, size * size, 3});
  torch::Tensor p = torch::matmul(q, view_to_crop.to(opts).transpose(1, 2));  // [B, size², 2]
  // Pixel centres → grid_sample's coordinates (align_corners false: −1 and 1 are the outer pixel edges).
  const double W = static_cast<double>(images.size(3)), H = static_cast<double>(images.size(2));
  const torch::Tensor scale = torch::tensor({2 / W, 2 / H}, opts).view({1, 1, 2});
  const torch::Tensor shift = torch::tensor({1 / W - 1, 1 / H - 1}, opts).view({1, 1, 2});
  p = (p * scale + shift).view({images.size(0), size, size, 2});
  return F::grid_sample(
      images, p,
      F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false));
}

torch::Tensor refined_teacher_points(Aligner& teacher, const torch::Tensor& images, int refine,
                                     const torch::Tensor& image_to_crop) {
  torch::NoGradGuard no_grad;
  const int T = teacher->config().input_size;
  const int64_t B = images.size(0);
  const double L = static_cast<double>(images.size(3));
  Predictor predictor(teacher);
  const std::vector<int>& partners = predictor.partners();
  if (refine > 0 && std::any_of(partners.begin(), partners.end(), [](int k) { return k < 0; }))
    throw std::runtime_error("teacher_refine: every point of the teacher's scheme needs a mirror partner");
  const auto dopts = torch::TensorOptions().dtype(torch::kDouble);
  const torch::Tensor photo_to_crop =
      image_to_crop.defined() ? image_to_crop.to(torch::kCPU, torch::kDouble) : image_to_crop;
  // The first pass: the crop itself, resized (x_L + ½ = (x_T + ½)·L/T).
  const torch::Tensor first =
      predictor
          .run(resize_crops(images, T), Views::Direct,
               image_to_crop.defined() ? image_to_crop.to(images.device()) * (T / L) : image_to_crop)
          .direct;
  torch::Tensor sum = ((first.to(torch::kCPU, torch::kDouble) + 0.5) * (L / T) - 0.5);
  for (int k = 1; k <= refine; ++k) {
    const torch::Tensor so_far = sum / static_cast<double>(k);
    // Each crop's view: the upright box of its landmarks so far × 1.25 × view_scale(k), turned with the face.
    torch::Tensor a = torch::zeros({B, 2, 3}, dopts), crop_to_view = torch::zeros({B, 2, 2}, dopts);
    auto acc = a.accessor<double, 3>(), fwd = crop_to_view.accessor<double, 3>();
    for (int64_t b = 0; b < B; ++b) {
      const UprightBox u = upright_box(tensor_to_points(so_far[b]), teacher->scheme());
      const Affine2 m = crop_map(u.centre, u.side * 1.25 * view_scale(k), u.angle, T),
                    back = invert_affine(m);
      for (int r = 0; r < 2; ++r)
        for (int c = 0; c < 3; ++c) {
          acc[b][r][c] = back(r, c);
          if (c < 2) fwd[b][r][c] = m(r, c);
        }
    }
    const torch::Tensor to_view = photo_to_crop.defined()
                                      ? torch::matmul(crop_to_view, photo_to_crop).to(images.device())
                                      : photo_to_crop;
    const torch::Tensor view = resample_crops(images, a.to(images.device()), T);
    const bool mirrored = k % 2 == 1;
    const torch::Tensor q =
        predictor.landmarks(predictor.run(view, mirrored ? Views::Mirrored : Views::Direct, to_view))
            .to(torch::kCPU, torch::kDouble);
    const torch::Tensor ones = torch::ones({B, q.size(1), 1}, dopts);
    sum = sum + torch::matmul(torch::cat({q, ones}, 2), a.transpose(1, 2));
  }
  return (sum / static_cast<double>(refine + 1)).to(images.device());
}

torch::Tensor teacher_targets(std::vector<Aligner>& teachers, const torch::Tensor& images,
                              const torch::Tensor& points, double weight, bool mirror,
                              const torch::Tensor& image_to_crop, int refine) {
  if (teachers.empty()) throw std::invalid_argument("teacher_targets: no teacher");
  // The blend is linear in the teacher's landmarks: the ensemble's targets are the mean of each one's.
  torch::Tensor sum;
  for (Aligner& t : teachers) {
    const torch::Tensor one =
        refine > 0
            ? (1 - weight) * points +
                  weight * refined_teacher_points(t, images, refine, image_to_crop).to(points.scalar_type())
            : teacher_targets(t, images, points, weight, mirror, image_to_crop);
    sum = sum.defined() ? sum + one : one;
  }
  return sum / static_cast<double>(teachers.size());
}

std::vector<std::string> split_teachers(const std::string& list) {
  std::vector<std::string> files;
  std::stringstream in(list);
  std::string file;
  while (std::getline(in, file, ','))
    if (!file.empty()) files.push_back(file);
  return files;
}

namespace {

// One pass over the faces: landmarks (and the annotation's points a sparse model carries with its flow)
// in the records' pixels, calibrated; the flow's Jacobians at the landmarks when the crop itself is seen.
struct Pass {
  std::vector<Points> points, dense;
  std::vector<Eigen::Matrix2d> jacobians;
};

// The Jacobians of a traced flow at its landmarks, face after face.
void add_jacobians(const FlowTrace& trace, std::vector<Eigen::Matrix2d>& out) {
  const torch::Tensor jac = trace.point_jacobian.to(torch::kCPU, torch::kFloat64).contiguous();
  for (int64_t k = 0; k < jac.size(0) * jac.size(1); ++k) {
    const double* j = jac.data_ptr<double>() + 4 * k;
    Eigen::Matrix2d m;
    m << j[0], j[1], j[2], j[3];
    out.push_back(m);
  }
}

// `angles` (optional, one per face): each crop turned about its box's centre by that much (upright crops).
Pass run_pass(Predictor& predictor, const FaceDataset& data, const std::vector<Box>* boxes, int batch_size,
              Views views, const std::vector<double>* angles) {
  torch::NoGradGuard no_grad;
  Aligner& model = predictor.model();
  model->eval();
  const AlignerConfig& cfg = model->config();
  const torch::Device device = model->parameters().front().device();  // crops go there, results come back
  const int S = cfg.input_size;
  const int n = model->scheme().num_points;
  Pass r;
  for (size_t start = 0; start < data.size(); start += static_cast<size_t>(batch_size)) {
    const size_t count = std::min(data.size() - start, static_cast<size_t>(batch_size));
    torch::Tensor images = torch::empty({static_cast<int64_t>(count), 3, S, S});
    std::vector<Affine2> maps(count);
    std::vector<float> dummy(static_cast<size_t>(2 * n));
    std::mt19937 rng(0);
    for (size_t k = 0; k < count; ++k) {
      data.sample(start + k, S, AugmentOptions{}, rng, cfg.mean, cfg.std,
                  images[static_cast<int64_t>(k)].data_ptr<float>(), dummy.data(), &maps[k],
                  boxes != nullptr ? &(*boxes)[start + k] : nullptr,
                  angles != nullptr ? (*angles)[start + k] : 0.0);
    }
    torch::Tensor to_crop;  // the photos' pixels → crop pixels, for the calibration's image part
    if (cfg.calibration.has_image_term()) {
      std::vector<double> scale(count);
      for (size_t k = 0; k < count; ++k) scale[k] = data.record(start + k).scale;
      to_crop = image_to_crop_maps(maps, scale).to(device);
    }
    const ViewPoints v = predictor.run(images.to(device), views, to_crop, /*trace=*/true);
    if (v.trace) add_jacobians(*v.trace, r.jacobians);
    const torch::Tensor pred = predictor.landmarks(v).to(torch::kCPU, torch::kFloat64).contiguous();
    const torch::Tensor carried = predictor.carries()
                                      ? predictor.carried(v).to(torch::kCPU, torch::kFloat64).contiguous()
                                      : torch::Tensor();
    for (size_t k = 0; k < count; ++k) {
      const Affine2 back = invert_affine(maps[k]);
      r.points.push_back(apply_affine(back, tensor_to_points(pred[static_cast<int64_t>(k)])));
      if (carried.defined())
        r.dense.push_back(apply_affine(back, tensor_to_points(carried[static_cast<int64_t>(k)])));
    }
  }
  return r;
}

}  // namespace

EvalResult evaluate(Aligner& model, const FaceDataset& data, const std::vector<Box>* boxes, int batch_size,
                    bool flip, int refine, bool alternate) {
  std::vector<EvalMember> one{{model, &data, boxes}};
  return evaluate(one, batch_size, flip, refine, alternate);
}

namespace {

void check_members(const std::vector<EvalMember>& members) {
  if (members.empty()) throw std::invalid_argument("evaluate: no model");
  for (const EvalMember& m : members) {
    if (m.data == nullptr || m.data->size() != members[0].data->size())
      throw std::invalid_argument("evaluate: every model needs the same faces");
    if (m.boxes != nullptr && m.boxes->size() != m.data->size())
      throw std::invalid_argument("evaluate: one box per face is needed");
    if (m.model->scheme().id != members[0].model->scheme().id)
      throw std::invalid_argument("evaluate: the models predict different schemes (" +
                                  members[0].model->scheme().id + ", " + m.model->scheme().id + ")");
  }
}

// One pass of every member on its crops (pass 0: its `boxes`, then `again` turned by `angles`): the mean of
// their predictions, in the photos' own pixels.
Pass ensemble_pass(std::vector<Predictor>& predictors, const std::vector<EvalMember>& members, int k,
                   int batch_size, Views view, const std::vector<std::vector<Box>>& again,
                   const std::vector<double>& angles) {
  const double share = 1.0 / static_cast<double>(members.size());
  Pass p;
  for (size_t m = 0; m < members.size(); ++m) {
    Pass q = run_pass(predictors[m], *members[m].data, k == 0 ? members[m].boxes : &again[m], batch_size,
                      view, k == 0 ? nullptr : &angles);
    for (size_t i = 0; i < q.points.size(); ++i) {
      const double f = share / members[m].data->record(i).scale;
      q.points[i] *= f;
      if (i < q.dense.size()) q.dense[i] *= f;
    }
    if (m == 0) {
      p = std::move(q);
      continue;
    }
    for (size_t i = 0; i < p.points.size(); ++i) p.points[i] += q.points[i];
    for (size_t i = 0; i < p.dense.size(); ++i) p.dense[i] += q.dense[i];
  }
  return p;
}

// The next pass's crops: each face's upright box (photo pixels) × `view_side`, in each member's records.
void next_boxes(const std::vector<Points>& points, const std::vector<EvalMember>& members,
                const Scheme& scheme, double view_side, std::vector<std::vector<Box>>& again,
                std::vector<double>& angles) {
  for (auto& a : again) a.clear();
  angles.clear();
  for (size_t i = 0; i < points.size(); ++i) {
    const UprightBox u = upright_box(points[i], scheme);
    for (size_t m = 0; m < members.size(); ++m) {
      const double f = members[m].data->record(i).scale, side = u.side * view_side * f;
      again[m].push_back({u.centre.x() * f - side / 2, u.centre.y() * f - side / 2, side, side, 0});
    }
    angles.push_back(u.angle);
  }
}

// The metrics of the final points (the first member's record pixels) against the annotation.
void score(EvalResult& r, const FaceDataset& data, const std::vector<Points>& points,
           const std::vector<Points>& dense, bool carries) {
  const Scheme& scheme = data.target();
  const Scheme& annotation = data.annotation();
  const auto parts = scheme.point_parts();
  const std::vector<Part> dense_parts = r.dense ? annotation.point_parts() : std::vector<Part>{};
  for (size_t i = 0; i < data.size(); ++i) {
    const Points& p = points[i];
    const Points truth = data.target_points(i);
    const double d = normalising_distance(truth, scheme.normalisation);
    r.names.push_back(data.record(i).name);
    r.nme.push_back(nme(p, truth, d));
    r.parts.push_back(nme_curves(p, parts, truth, parts, d));
    if (r.dense) {
      const Points& all = data.record(i).points;
      const double da = normalising_distance(all, annotation.normalisation);
      if (carries) {
        r.dense->nme.push_back(nme(dense[i], all, da));
        r.dense->parts.push_back(nme_curves(dense[i], dense_parts, all, dense_parts, da));
      } else {
        r.dense->parts.push_back(nme_curves(p, parts, all, dense_parts, da));
      }
    }
    r.predicted.push_back(p);
  }
  r.summary = summarize(r.nme);
  r.mean_parts = mean_part_errors(r.parts);
  if (r.dense) {
    if (!r.dense->nme.empty()) r.dense->summary = summarize(r.dense->nme);
    r.dense->mean_parts = mean_part_errors(r.dense->parts);
  }
}

}  // namespace

EvalResult evaluate(std::vector<EvalMember>& members, int batch_size, bool flip, int refine, bool alternate,
                    const std::function<void(int, int)>& on_pass) {
  check_members(members);
  const auto t0 = Clock::now();
  Aligner& model = members[0].model;
  const FaceDataset& data = *members[0].data;
  EvalResult r;
  // Sparse to dense: the annotation has points the model does not predict. One predictor per member; an
  // LDDMM model carries the points it does not predict with its flow.
  const Scheme& annotation = data.annotation();
  if (annotation.id != data.target().id) {
    r.dense.emplace();
    r.dense->scheme = annotation.id;
  }
  std::vector<Predictor> predictors;
  for (EvalMember& m : members)
    predictors.emplace_back(m.model, r.dense && m.model->config().head == Head::Lddmm
                                         ? std::optional<Scheme>(annotation)
                                         : std::nullopt);
  for (const Predictor& p : predictors)
    if (p.carries() != predictors[0].carries())
      throw std::invalid_argument("evaluate: an ensemble for a denser annotation needs one kind of head");
  // The passes: each crops around the upright box of the landmarks so far, turned with the face (the first
  // around each member's `boxes`, unturned): the crops the tracker gives a face it follows or has just found.
  // Averaged, a point counts the passes that place it: a mirrored pass has no view of a point without a
  // mirror partner (a sparse scheme's), which keeps the other passes' mean. An ensemble's view is the mean
  // of its models' predictions on that crop; points are kept in the photos' pixels until the metrics.
  const bool average = alternate && !flip;
  const std::vector<int> partners = mirror_partners(model->scheme());
  const std::vector<int>& dense_partners = predictors[0].carried_partners();
  std::vector<Points> points, dense;
  std::vector<std::vector<double>> seen, dense_seen;  // per face, the views of each point so far
  std::vector<Eigen::Matrix2d> jacobians;
  std::vector<std::vector<Box>> again(members.size());
  std::vector<double> angles;
  for (int k = 0; k <= refine; ++k) {
    const Views view = flip ? Views::Both : (alternate && k % 2 == 1 ? Views::Mirrored : Views::Direct);
    Pass p = ensemble_pass(predictors, members, k, batch_size, view, again, angles);
    // DetJ: the first pass's flow when the views are averaged (one crop of the face, the flow the tracker
    // shows), else the last pass's (which gives the landmarks).
    if (!p.jacobians.empty() && (!average || jacobians.empty())) jacobians = std::move(p.jacobians);
    if (k == 0 || !average) {
      points = std::move(p.points);
      dense = std::move(p.dense);
      seen.assign(points.size(), std::vector<double>(partners.size(), 1.0));
      dense_seen.assign(dense.size(), std::vector<double>(dense_partners.size(), 1.0));
    } else {
      const bool mirrored = view == Views::Mirrored;
      for (size_t i = 0; i < points.size(); ++i)
        add_view(points[i], seen[i], p.points[i], partners, mirrored);
      for (size_t i = 0; i < dense.size(); ++i)
        add_view(dense[i], dense_seen[i], p.dense[i], dense_partners, mirrored);
    }
    next_boxes(points, members, model->scheme(), average ? view_scale(k + 1) : 1.0, again, angles);
    if (on_pass) on_pass(k + 1, refine + 1);
  }
  for (size_t i = 0; i < points.size(); ++i) {
    const double f = data.record(i).scale;
    points[i] *= f;
    if (i < dense.size()) dense[i] *= f;
  }
  score(r, data, points, dense, predictors[0].carries());
  r.detj = detj_table(jacobians);
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return r;
}

namespace {

using Log = std::function<void(const std::string&)>;

bool starts_with(const std::string& key, const std::string& prefix) { return key.rfind(prefix, 0) == 0; }

// Distillation teachers: one file, or several separated by commas (an ensemble, their landmarks averaged).
std::vector<Aligner> load_teachers(const TrainConfig& cfg, const Scheme& scheme, const torch::Device& device,
                                   const Log& log) {
  const TrainOptions& o = cfg.train;
  std::vector<Aligner> teachers;
  if (!(o.teacher_weight >= 0 && o.teacher_weight <= 1))
    throw std::runtime_error("teacher_weight must be in [0, 1]");
  for (const std::string& file : split_teachers(o.teacher)) {
    Aligner teacher = load_model(file);
    const AlignerConfig& tc = teacher->config();
    if (teacher->scheme().id != scheme.id || tc.mean != cfg.model.mean || tc.std != cfg.model.std)
      throw std::runtime_error(file + ": the teacher's scheme or normalisation differs from the model's");
    teacher->to(device);
    teacher->eval();
    teacher->fold_batch_norms();
    if (device.is_cpu()) teacher->use_channels_last();
    log("distilling from " + file + " (" + std::to_string(tc.input_size) + " px, weight " +
        setting(o.teacher_weight) +
        (o.teacher_refine > 0 ? ", " + std::to_string(o.teacher_refine + 1) + " views"
                              : (o.teacher_mirror ? ", mirrored" : "")) +
        ")");
    teachers.push_back(teacher);
  }
  return teachers;
}

// The optimiser's parameter groups: the network's, then the window terms' (detail, refine), which may learn
// at a multiple of the rate; with detail_only or refine_only that term alone learns.
struct ParamGroups {
  std::string only;  // "detail_", "refine_" or "" (everything learns)
  std::vector<torch::Tensor> base, window;
  // The rate of group g: the window terms' is the schedule's × detail_lr_scale.
  double scale(size_t g, double detail_lr_scale) const {
    return g == 0 && !base.empty() ? 1.0 : detail_lr_scale;
  }
};

ParamGroups param_groups(Aligner& model, const TrainOptions& o) {
  if (!(o.detail_lr_scale > 0)) throw std::runtime_error("detail_lr_scale must be > 0");
  if (o.detail_only && o.refine_only)
    throw std::runtime_error("detail_only and refine_only exclude each other");
  ParamGroups g;
  g.only = o.refine_only ? "refine_" : o.detail_only ? "detail_" : "";
  for (const auto& p : model->named_parameters()) {
    const bool window = starts_with(p.key(), "detail_") || starts_with(p.key(), "refine_");
    if (!g.only.empty() && !starts_with(p.key(), g.only))
      p.value().set_requires_grad(false);
    else
      (window ? g.window : g.base).push_back(p.value());
  }
  if (!g.only.empty() && g.window.empty()) {
    const std::string term = g.only.substr(0, g.only.size() - 1);
    throw std::runtime_error(g.only + "only: the model has no " + term + " term (model." + term + ".patch)");
  }
  return g;
}

// With detail_only or refine_only the rest of the network stays as the start has it, batch norms in
// inference mode.
void set_train_mode(Aligner& model, const std::string& only) {
  model->train();
  if (!only.empty())
    for (const auto& child : model->named_children())
      if (!starts_with(child.key(), only)) child.value()->eval();
}

// The configuration a start file must have to be copied into a model of `want` as its start: the network is
// convolutional up to a global pool and its momenta scale with the input, so a model trained at another input
// size is a valid start (fine-tuning at a larger size); so is one without a window or shape-indexed term,
// which then starts from zero (the start's outputs are kept).
AlignerConfig as_start_config(const AlignerConfig& saved, AlignerConfig want) {
  want.input_size = saved.input_size;
  want.calibration = saved.calibration;  // the start's offsets do not carry over
  if (saved.local.channels == 0) want.local = saved.local;
  if (saved.cascade.channels == 0) want.cascade = saved.cascade;
  // The backbone's input reduction follows the input size (the same backbone reads a 128-px crop either way).
  if (saved.detail.patch == 0)
    want.detail = saved.detail;
  else
    want.detail.factor = saved.detail.factor;
  if (saved.refine.patch == 0) want.refine = saved.refine;
  return want;
}

// Copies a saved model's weights into `model`: a checkpoint of this run, or (`as_start`) a start file.
void copy_weights(Aligner& model, const TrainConfig& cfg, const Scheme& scheme,
                  const std::filesystem::path& file, bool as_start, const Log& log) {
  Aligner saved = load_model(file);
  AlignerConfig want = as_start ? as_start_config(saved->config(), cfg.model) : cfg.model;
  // A start whose backbone this one grows (more modules or blocks): the parts it lacks start as the
  // identity or as scaled copies (train.grow_scale), so training starts at or near the start's network.
  const HRNetConfig from = saved->config().backbone;
  const bool grown = as_start && grows(from, want.backbone) && !grows(want.backbone, from);
  if (grown) want.backbone = from;
  if (to_json(saved->config()) != to_json(want) || saved->scheme().id != scheme.id)
    throw std::runtime_error(file.string() +
                             ": its configuration or scheme differs from the training configuration");
  torch::NoGradGuard no_grad;
  auto dst = model->named_parameters();
  for (const auto& p : saved->named_parameters()) dst[p.key()].copy_(p.value());
  auto dstb = model->named_buffers();
  // Buffers that depend on the input size (mean face, sampling grid) stay as this model built them.
  for (const auto& b : saved->named_buffers())
    if (!as_start || (b.key() != "template" && b.key() != "local_grid" && b.key() != "cascade_offsets" &&
                      b.key() != "detail_offsets" && b.key() != "refine_offsets"))
      dstb[b.key()].copy_(b.value());
  // After the buffers: a new module copies the batch-norm statistics of the one before it as trained.
  if (grown) {
    model->start_growth(from, cfg.train.grow_scale);
    log(cfg.train.grow_scale > 0
            ? "grown from the start's backbone: its new modules and blocks start as copies of the "
              "ones before them, their residual and fusion outputs x " +
                  std::to_string(cfg.train.grow_scale)
            : "grown from the start's backbone: its new modules and blocks start as the identity");
  }
}

// One run's network and what trains it: the optimiser, the weight average, where its files go.
struct Run {
  const TrainConfig& cfg;
  const Scheme& scheme;
  std::filesystem::path out;
  const Log& log;
  Aligner& model;
  torch::optim::AdamW& optimizer;
  std::optional<WeightAverage>& average;
};

// Where the run starts: after its last finished epoch when resumed, else from `init` (when given); returns
// that epoch and the best validation NME so far. The weight average starts too.
std::pair<int, double> start_run(Run& r, bool resume, const std::filesystem::path& init) {
  int first_epoch = 0;
  double best = 1e9;
  const auto state_file = r.out / "state.json";
  if (resume && std::filesystem::exists(r.out / "last.pt") && std::filesystem::exists(state_file)) {
    copy_weights(r.model, r.cfg, r.scheme, r.out / "last.pt", false, r.log);
    torch::load(r.optimizer, (r.out / "optimizer.pt").string());
    std::ifstream in(state_file);
    const json st = json::parse(in);
    first_epoch = st.at("epoch").get<int>();
    best = st.at("best_nme").get<double>();
    r.log("resumed after epoch " + std::to_string(first_epoch) + " (best val NME " +
          std::to_string(best * 100) + " %)");
  }
  if (first_epoch == 0 && !init.empty()) {
    copy_weights(r.model, r.cfg, r.scheme, init, true, r.log);
    r.log("initialised from " + init.string());
  }
  if (r.cfg.train.ema_decay > 0) {
    r.average.emplace(*r.model, r.cfg.train.ema_decay);
    if (first_epoch > 0) {
      if (!std::filesystem::exists(r.out / "ema.pt"))
        throw std::runtime_error((r.out / "ema.pt").string() + ": missing, cannot resume the weight average");
      r.average->swap(*r.model);  // the model holds a copy of the weights now; load the average into it
      copy_weights(r.model, r.cfg, r.scheme, r.out / "ema.pt", false, r.log);
      r.average->swap(*r.model);
    }
  }
  return {first_epoch, best};
}

// The learning rate at `progress` epochs of `epochs`: a linear warm-up, then a cosine down to zero.
double scheduled_rate(const TrainOptions& o, double progress, int epochs) {
  if (progress < o.warmup_epochs) return o.learning_rate * ((progress + 0.1) / (o.warmup_epochs + 0.1));
  const double t =
      (progress - o.warmup_epochs) / std::max(1.0, static_cast<double>(epochs - o.warmup_epochs));
  return o.learning_rate * (0.5 * (1 + std::cos(M_PI * std::min(1.0, t))));
}

// What a training step needs besides the run: the groups' rates, the teachers, the loss and its frames.
struct Step {
  const ParamGroups& groups;
  std::vector<Aligner>& teachers;
  const CurveLoss& loss;
  torch::Device device;
  int input_size;        // the model's crops
  double to_loss_frame;  // the model's crop pixels → the loss frame
  double to_loss;        // the training crops' pixels → the loss frame
};

// One epoch's steps; returns the mean loss. `first_epoch` and `t_start` date the run for the ETA.
double train_epoch(Run& r, const Step& s, BatchLoader& loader, int epoch, int first_epoch, int epochs,
                   Clock::time_point t_start) {
  const TrainOptions& o = r.cfg.train;
  const auto t0 = Clock::now();
  const size_t per_epoch = loader.batches_per_epoch();
  loader.start_epoch(epoch);
  BatchLoader::Batch batch;
  double sum = 0;
  size_t step = 0;
  Progress report(stderr, static_cast<int64_t>(per_epoch), false);
  while (loader.next(batch)) {
    const double lr =
        scheduled_rate(o, epoch + static_cast<double>(step) / static_cast<double>(per_epoch), epochs);
    for (size_t g = 0; g < r.optimizer.param_groups().size(); ++g)
      static_cast<torch::optim::AdamWOptions&>(r.optimizer.param_groups()[g].options())
          .lr(lr * s.groups.scale(g, o.detail_lr_scale));
    r.optimizer.zero_grad();
    const torch::Tensor images = batch.images.to(s.device);
    torch::Tensor targets = batch.points.to(s.device);
    if (!s.teachers.empty())
      targets = teacher_targets(s.teachers, images, targets, o.teacher_weight, o.teacher_mirror,
                                batch.image_to_crop, o.teacher_refine);
    const torch::Tensor value =
        s.loss(r.model->forward(resize_crops(images, s.input_size)) * s.to_loss_frame, targets * s.to_loss);
    value.backward();
    r.optimizer.step();
    if (r.average) r.average->update(*r.model);
    sum += value.item<double>();
    ++step;
    const double el = std::chrono::duration<double>(Clock::now() - t0).count();
    const double done = (epoch - first_epoch) + static_cast<double>(step) / static_cast<double>(per_epoch);
    const double total_el = std::chrono::duration<double>(Clock::now() - t_start).count();
    const double eta = total_el / done * (epochs - first_epoch - done);
    char text[128];
    std::snprintf(text, sizeof text, "batches of epoch %d/%d  loss %.4f  %.1f img/s  lr %.2e  ETA %s",
                  epoch + 1, epochs, sum / static_cast<double>(step),
                  static_cast<double>(step * static_cast<size_t>(o.batch_size)) / el, lr, hms(eta).c_str());
    report.update(static_cast<int64_t>(step), text);
  }
  report.finish();
  return sum / static_cast<double>(step);
}

// The end of an epoch: validation, the log line and the CSV row, checkpoints written to temporary files and
// renamed, so an interruption never leaves a broken one (last.pt holds the raw weights; with averaging,
// validation, ema.pt and best.pt use the average). Returns the epoch's seconds since `t0`.
double end_epoch(Run& r, const FaceDataset& val_set, int epoch, double train_loss, Clock::time_point t0,
                 double& best, std::ofstream& csv) {
  save_model(r.model, r.out / "last.pt.tmp", false);
  EvalResult val = evaluate(r.model, val_set);
  const double raw_nme = val.summary.mean;
  if (r.average) {
    r.average->swap(*r.model);
    val = evaluate(r.model, val_set);
    save_model(r.model, r.out / "ema.pt.tmp", false);
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const double lr_now =
      static_cast<torch::optim::AdamWOptions&>(r.optimizer.param_groups()[0].options()).lr();
  csv << epoch + 1 << ',' << lr_now << ',' << train_loss << ',' << val.summary.mean << ','
      << val.summary.failure << ',' << val.summary.auc << ',' << secs;
  if (r.average) csv << ',' << raw_nme;
  csv << '\n';
  csv.flush();
  char line[320];
  const int len = std::snprintf(
      line, sizeof line, "epoch %d: train loss %.4f, val NME %.2f %%, FR@0.1 %.1f %%, AUC@0.1 %.3f (%.0f s)",
      epoch + 1, train_loss, 100 * val.summary.mean, 100 * val.summary.failure, val.summary.auc, secs);
  if (r.average && len > 0 && static_cast<size_t>(len) < sizeof line)
    std::snprintf(line + len, sizeof line - static_cast<size_t>(len), "; averaged weights (raw %.2f %%)",
                  100 * raw_nme);
  r.log(line);
  torch::save(r.optimizer, (r.out / "optimizer.pt.tmp").string());
  std::filesystem::rename(r.out / "last.pt.tmp", r.out / "last.pt");
  std::filesystem::rename(r.out / "optimizer.pt.tmp", r.out / "optimizer.pt");
  if (r.average) std::filesystem::rename(r.out / "ema.pt.tmp", r.out / "ema.pt");
  if (val.summary.mean < best) {
    best = val.summary.mean;
    save_model(r.model, r.out / "best.pt", true);
    r.log("  new best: saved best.pt (float16)");
  }
  if (r.average) r.average->swap(*r.model);  // back to the raw weights for the next epoch
  std::ofstream(r.out / "state.json") << json{{"epoch", epoch + 1}, {"best_nme", best}}.dump() << '\n';
  return secs;
}

// The number of epochs under the time budget: after the second epoch of the run (the first is the slowest:
// cuDNN's kernel search, caches filling), its time sets how many more fit; the schedule is fitted to them.
int fit_to_budget(const TrainOptions& o, int epoch, int first_epoch, int epochs, double secs,
                  Clock::time_point t_start, const Log& log) {
  if (!(o.time_budget_minutes > 0 && epoch <= first_epoch + 1)) return epochs;
  const double budget = o.time_budget_minutes * 60;
  const double elapsed = std::chrono::duration<double>(Clock::now() - t_start).count();
  int fit = epochs;
  if (elapsed >= budget)
    fit = epoch + 1;
  else if (epoch == first_epoch + 1)
    fit = epoch + 1 + static_cast<int>((budget - elapsed) / secs);
  if (fit >= epochs) return epochs;
  log("time budget " + setting(o.time_budget_minutes) + " min: " + std::to_string(fit) +
      " epochs instead of " + std::to_string(o.epochs) + " (the schedule is fitted to them)");
  return fit;
}

}  // namespace

void train(const TrainConfig& cfg, const std::filesystem::path& data_root,
           const std::filesystem::path& train_list, const std::filesystem::path& val_list,
           const std::filesystem::path& out, bool resume, const std::function<void(const std::string&)>& log,
           const std::filesystem::path& init) {
  const TrainOptions& o = cfg.train;
  const int threads =
      o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  torch::manual_seed(o.seed);
  const Scheme scheme = find_scheme(cfg.scheme);
  const Scheme annotation = find_scheme(cfg.annotation);
  std::filesystem::create_directories(out);
  const int S = cfg.model.input_size;
  // CUDA when present unless told (the crops are prepared on the CPU threads either way).
  const torch::Device device = parse_device(o.device);
  // The crops keep one size: let cuDNN time its kernels once and keep the fastest.
  if (device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);
  std::vector<Aligner> teachers = load_teachers(cfg, scheme, device, log);
  // Training crops at the largest of the networks' sizes (each network gets them resized to its own).
  int L = S;
  for (const Aligner& t : teachers) L = std::max(L, t->config().input_size);
  // Cache images with the landmark box at about the crop size the augmentation can ask for.
  const auto cache = [&](int side) { return static_cast<int>(side * (1 + o.augment.scale)); };
  log("loading " + train_list.string() + " and " + val_list.string());
  const FaceDataset train_set(data_root, train_list, annotation, scheme, cache(L));
  const FaceDataset val_set(data_root, val_list, annotation, scheme, cache(S));
  log(std::to_string(train_set.size()) + " training faces, " + std::to_string(val_set.size()) +
      " validation faces, " + std::to_string(threads) + " threads, " + (device.is_cuda() ? "CUDA" : "CPU") +
      ", seed " + std::to_string(o.seed));

  Aligner model(cfg.model, scheme);
  model->to(device);
  const ParamGroups groups = param_groups(model, o);
  std::vector<torch::optim::OptimizerParamGroup> optimizer_groups;
  if (!groups.base.empty()) optimizer_groups.emplace_back(groups.base);
  if (!groups.window.empty()) optimizer_groups.emplace_back(groups.window);
  torch::optim::AdamW optimizer(optimizer_groups,
                                torch::optim::AdamWOptions(o.learning_rate).weight_decay(o.weight_decay));
  // The loss is computed in the authors' 64-pixel frame, so that β weighs the currents term (pixels²)
  // against the landmark term (pixels) as in the paper, whatever the input size.
  constexpr double kLossFrame = 64.0;
  const CurveLoss loss =
      CurveLoss::from_scheme(scheme, {cfg.model.head == Head::Lddmm ? o.beta : 0.0, o.point_weighted_loss},
                             cfg.model.kernel_scale * kLossFrame / scheme.mean_face.frame);
  std::optional<WeightAverage> average;
  Run run{cfg, scheme, out, log, model, optimizer, average};
  auto [first_epoch, best] = start_run(run, resume, init);
  std::ofstream csv(out / "log.csv", std::ios::app);
  if (first_epoch == 0)
    csv << "epoch,lr,train_loss,val_nme,val_fr,val_auc,seconds" << (average ? ",raw_val_nme" : "") << '\n';

  BatchLoader loader(train_set, o.batch_size, L, o.augment, cfg.model.mean, cfg.model.std, true, o.seed,
                     o.loader_threads);
  const Step step{groups, teachers, loss, device, S, kLossFrame / S, kLossFrame / L};
  const auto t_start = Clock::now();
  if (!(o.time_budget_minutes >= 0)) throw std::runtime_error("time_budget_minutes must be ≥ 0");
  int epochs = o.epochs;  // cut by the time budget after the second epoch
  for (int epoch = first_epoch; epoch < epochs; ++epoch) {
    set_train_mode(model, groups.only);
    const auto t0 = Clock::now();
    const double train_loss = train_epoch(run, step, loader, epoch, first_epoch, epochs, t_start);
    const double secs = end_epoch(run, val_set, epoch, train_loss, t0, best, csv);
    epochs = fit_to_budget(o, epoch, first_epoch, epochs, secs, t_start, log);
  }
}

}  // namespace lddmm
