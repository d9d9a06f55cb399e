// `render`: flows a scheme's mean face under momenta (random, read from a file, or fitted to a face's
// landmarks) and draws the result with the deformed grid to a PNG.
#include <torch/torch.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "commands.hpp"
#include "lddmm/face/image_file.hpp"
#include "lddmm/flow/correspondence.hpp"
#include "lddmm/flow/flow.hpp"
#include "lddmm/flow/loss.hpp"
#include "lddmm/flow/metrics.hpp"
#include "lddmm/flow/register.hpp"
#include "lddmm/flow/scheme.hpp"
#include "lddmm/flow/tensor_points.hpp"
#include "lddmm/io/pts_io.hpp"
#include "lddmm/io/safe_output.hpp"
#include "lddmm/io/scheme_files.hpp"
#include "lddmm/render/flow_export.hpp"
#include "lddmm/render/render.hpp"
#include "lddmm/render/teaching.hpp"

namespace lddmm::app {
namespace {

struct RenderOpts {
  std::string scheme = "300w68";
  std::string fit, image, momenta, out = "flow.png", save_momenta, save_points, as_scheme;
  unsigned seed = 1;
  double amplitude = 6;
  std::string integrator = "heun";
  int steps = 2;
  bool authors = false;
  bool per_curve = false;
  int grid = 32;
  int dense = 1;
  int size = 768;
  int iterations = 300;
  std::vector<std::string> animate;
  int frames = 61;
  int animate_size = 720;
};

using Clock = std::chrono::steady_clock;

FlowOptions flow_options(const RenderOpts& o) {
  if (o.authors) return FlowOptions::authors();
  const auto integ = parse_integrator(o.integrator);
  if (!integ) throw std::runtime_error("unknown integrator \"" + o.integrator + "\" (euler, heun, rk4)");
  return {*integ, o.steps, true};
}

// The momenta to draw, the canvas and the map from the mean-face frame to it.
struct Start {
  torch::Tensor momenta;
  Affine2 frame_to_canvas = Affine2::Zero(), img_to_frame = Affine2::Zero();
  cv::Mat canvas;
  Points target_img;  // --fit's points, in the photo's pixels
};

// The photo beside the .pts (or --image), else a grey canvas around the points.
cv::Mat fit_canvas(const RenderOpts& o, const Points& target_img) {
  std::string image = o.image;
  if (image.empty()) {
    for (const char* ext : {".jpg", ".png"}) {
      const auto cand = std::filesystem::path(o.fit).replace_extension(ext);
      if (std::filesystem::exists(cand)) image = cand.string();
    }
  }
  if (image.empty()) {
    const Eigen::RowVector2d hi = target_img.colwise().maxCoeff();
    return cv::Mat(static_cast<int>(hi.y() * 1.2) + 1, static_cast<int>(hi.x() * 1.2) + 1, CV_8UC3,
                   cv::Scalar(40, 40, 40));
  }
  std::string why;
  cv::Mat canvas = read_image(image, why);
  if (canvas.empty()) throw std::runtime_error(image + ": " + why);
  return canvas;
}

Start fitted_start(const RenderOpts& o, const Scheme& scheme, const DeformationLayer& layer,
                   const torch::Tensor& tmpl) {
  Start st;
  st.target_img = read_pts(o.fit);
  if (st.target_img.rows() != scheme.num_points)
    throw std::runtime_error(o.fit + ": has " + std::to_string(st.target_img.rows()) + " points, scheme " +
                             scheme.id + " has " + std::to_string(scheme.num_points));
  const Eigen::RowVector2d extent = st.target_img.colwise().maxCoeff() - st.target_img.colwise().minCoeff();
  if (!(extent.minCoeff() > 0)) throw std::runtime_error(o.fit + ": the points span no area (not a face)");
  st.img_to_frame = fit_similarity(st.target_img, scheme.mean_face.points);
  const torch::Tensor target = points_to_tensor(apply_affine(st.img_to_frame, st.target_img)).unsqueeze(0);
  const auto t0 = Clock::now();
  const FitResult fit = fit_momenta(layer, CurveLoss::from_scheme(scheme), tmpl, target, {o.iterations, 1.0});
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  st.momenta = fit.momenta;
  std::printf("fitted momenta to %s: loss %.4f → %.4f in %d Adam steps (%.0f ms)\n", o.fit.c_str(),
              fit.initial_loss, fit.final_loss, o.iterations, ms);
  st.frame_to_canvas = invert_affine(st.img_to_frame);
  st.canvas = fit_canvas(o, st.target_img);
  return st;
}

torch::Tensor file_momenta(const RenderOpts& o, const Scheme& scheme) {
  const Points m = read_pts(o.momenta);
  if (m.rows() != scheme.num_points)
    throw std::runtime_error(o.momenta + ": expected " + std::to_string(scheme.num_points) + " momenta");
  // Beyond a few frames a momentum sends points off any canvas: a damaged or wrong file.
  const double most = 10 * scheme.mean_face.frame;
  if (!(m.cwiseAbs().maxCoeff() <= most))
    throw std::runtime_error(o.momenta + ": momenta must be within ±" +
                             std::to_string(static_cast<int>(most)) + " (10 × the mean face's frame)");
  return points_to_tensor(m).unsqueeze(0);
}

// Smooth random momenta: one random vector per curve plus a smaller one per point.
torch::Tensor random_momenta(const RenderOpts& o, const Scheme& scheme) {
  torch::manual_seed(o.seed);
  torch::Tensor per_curve = torch::randn({static_cast<int64_t>(scheme.curves.size()), 2}, torch::kFloat64);
  torch::Tensor momenta = 0.3 * o.amplitude * torch::randn({1, scheme.num_points, 2}, torch::kFloat64);
  const auto owner = scheme.point_curve();
  for (int p = 0; p < scheme.num_points; ++p)
    momenta[0][p] += o.amplitude * per_curve[owner[static_cast<size_t>(p)]];
  return momenta;
}

Start make_start(const RenderOpts& o, const Scheme& scheme, const DeformationLayer& layer,
                 const torch::Tensor& tmpl) {
  Start st;
  if (!o.fit.empty()) {
    st = fitted_start(o, scheme, layer, tmpl);
  } else {
    st.momenta = o.momenta.empty() ? random_momenta(o, scheme) : file_momenta(o, scheme);
    st.frame_to_canvas(0, 0) = st.frame_to_canvas(1, 1) = o.size / scheme.mean_face.frame;
    st.canvas = cv::Mat(o.size, o.size, CV_8UC3, cv::Scalar(64, 64, 64));
  }
  return st;
}

// Another scheme's points (--dense, --as), carried by the flow and drawn red: their correspondence.
std::optional<Correspondence> other_scheme(const RenderOpts& o, const Scheme& scheme) {
  if (o.dense <= 1 && o.as_scheme.empty()) return std::nullopt;
  if (o.dense > 1 && !o.as_scheme.empty()) throw std::runtime_error("give --dense or --as, not both");
  const Scheme other = o.dense > 1 ? dense_scheme(scheme, o.dense) : find_scheme(o.as_scheme);
  Correspondence c = correspond(scheme, other);
  std::printf("also flowed %d points of %s (RMS %.2f px from the carrying curves on the mean face)\n",
              other.num_points, other.id.c_str(), c.rms_residual);
  return c;
}

// The template placed on the canvas flowed in canvas pixels (the momenta carried by the placement's linear
// part, the kernels scaled with it), with the grid: one continuous flow, or per curve (--per-curve).
TeachingFlow canvas_flow(const RenderOpts& o, const Scheme& scheme, const Start& st, int steps,
                         const Correspondence* carry) {
  const Affine2& a = st.frame_to_canvas;
  const FlowOptions fo = flow_options(o);
  TeachingOptions to;
  to.steps = steps;
  to.integrator = fo.integrator;
  to.shooting = fo.shooting;
  to.grid_cells = o.grid;
  to.per_curve_grid = o.per_curve;
  const Points momenta = tensor_to_points(st.momenta[0]) * a.leftCols<2>().transpose();
  return teach_flow(scheme, apply_affine(a, scheme.mean_face.points), momenta, Points(0, 2), to, carry);
}

// --animate: the flow t = 0 → 1 on the canvas (template, grid, arrows, trajectories), integrated in at
// least 16 steps so that the motion is smooth (`still`, the PNG's flow, when it has them), as a video or a
// strip of five panels.
void animate(const RenderOpts& o, const Scheme& scheme, const Start& st, const cv::Mat& background,
             const Correspondence* carry, const TeachingFlow& still) {
  std::optional<TeachingFlow> smooth;  // the still's own flow when it has the steps already
  if (flow_options(o).steps < 16) smooth = canvas_flow(o, scheme, st, 16, carry);
  const TeachingFlow& flow = smooth ? *smooth : still;
  SceneOptions so;
  so.template_curves = so.trajectories = true;
  FlowExportOptions eo;
  eo.frames = o.frames;
  eo.side = o.animate_size;
  for (const std::string& out : o.animate) {
    export_flow(out, background, scheme, flow, so, eo);
    std::printf("wrote %s\n", out.c_str());
  }
}

// --fit: the registration's error against the face's own points, and --save-points.
void report_fit(const RenderOpts& o, const Scheme& scheme, const Start& st, const Points& fitted) {
  const double e = nme(fitted, st.target_img, normalising_distance(st.target_img, scheme.normalisation));
  std::printf("registration error: NME %.3f %% of the inter-ocular distance\n", 100 * e);
  if (!o.save_points.empty()) write_pts(o.save_points, fitted);
}

int run_render(const RenderOpts& o) {
  std::vector<std::filesystem::path> outs = {o.out, o.save_momenta, o.save_points};
  outs.insert(outs.end(), o.animate.begin(), o.animate.end());
  check_outputs({o.fit, o.image, o.momenta, o.scheme}, outs);
  const Scheme scheme = find_scheme(o.scheme);
  const FlowOptions flow_opt = flow_options(o);
  const DeformationLayer layer(CurveSet::from_scheme(scheme), flow_opt);
  Start st = make_start(o, scheme, layer, points_to_tensor(scheme.mean_face.points));
  const cv::Mat background = o.fit.empty() ? cv::Mat() : st.canvas.clone();  // none: dark, the grid shows
  const std::optional<Correspondence> carry = other_scheme(o, scheme);
  const auto t0 = Clock::now();
  const TeachingFlow flow = canvas_flow(o, scheme, st, flow_opt.steps, carry ? &*carry : nullptr);
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  const auto [det_min, det_max] = std::minmax_element(flow.grid_det.begin(), flow.grid_det.end());
  std::printf(
      "flow (%s, %d steps, %s): %d points + %lld grid nodes (%s) in %.2f ms; det J on the grid in "
      "[%.3f, %.3f]\n",
      integrator_name(flow_opt.integrator), flow_opt.steps,
      flow_opt.shooting ? "geodesic shooting" : "constant momenta", scheme.num_points,
      static_cast<long long>(flow.grid.back().rows()), o.per_curve ? "per-curve flows" : "one blended flow",
      ms, *det_min, *det_max);
  SceneOptions so;
  so.template_curves = o.fit.empty();
  so.trajectories = true;
  paint_scene(st.canvas, teaching_scene(scheme, flow, 1.0, so), std::max(1, st.canvas.cols / 500));
  if (!o.fit.empty()) report_fit(o, scheme, st, flow.points.back());  // canvas pixels: the photo's
  if (!o.save_momenta.empty()) write_pts(o.save_momenta, tensor_to_points(st.momenta[0]));
  if (!cv::imwrite(o.out, st.canvas)) throw std::runtime_error(o.out + ": cannot write the image");
  std::printf("wrote %s (%dx%d)\n", o.out.c_str(), st.canvas.cols, st.canvas.rows);
  if (!o.animate.empty()) animate(o, scheme, st, background, carry ? &*carry : nullptr, flow);
  return 0;
}

}  // namespace

void add_render_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand(
      "render", "Flow a scheme's mean face under momenta and draw it with the deformed grid");
  auto o = std::make_shared<RenderOpts>();
  cmd->add_option("-s,--scheme", o->scheme, "Scheme id or file (id@K for a dense version)")
      ->capture_default_str();
  auto* fit = cmd->add_option("--fit", o->fit,
                              "Fit the momenta to the landmarks of this .pts file and draw on its image");
  cmd->add_option("--image", o->image, "Image to draw on with --fit (default: the .jpg beside the .pts)");
  cmd->add_option("--momenta", o->momenta,
                  "Read the momenta (one per point, frame pixels) from this .pts file")
      ->excludes(fit);
  cmd->add_option("--seed", o->seed, "Seed of the random momenta (used without --fit and --momenta)")
      ->capture_default_str();
  cmd->add_option("--amplitude", o->amplitude, "Size of the random momenta, frame pixels")
      ->capture_default_str();
  cmd->add_option("--integrator", o->integrator, "euler, heun or rk4")->capture_default_str();
  cmd->add_option("--steps", o->steps, "Integration steps")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_flag("--authors", o->authors, "The authors' layer: constant momenta, 2 Euler steps");
  cmd->add_option("--grid", o->grid, "Grid cells per side")->check(CLI::Range(1, 400))->capture_default_str();
  cmd->add_flag("--per-curve", o->per_curve,
                "Grid nodes ride on their nearest curve's flow (the paper's; tears)");
  cmd->add_option("--dense", o->dense,
                  "Also flow the dense scheme with K-1 points between neighbours (drawn red)")
      ->check(CLI::Range(1, 50));
  cmd->add_option("--as", o->as_scheme,
                  "Also flow another scheme's points through the correspondence (drawn red)");
  cmd->add_option("--iterations", o->iterations, "Adam steps of --fit")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--size", o->size, "Canvas side without an image, pixels")
      ->check(CLI::Range(64, 8192))
      ->capture_default_str();
  cmd->add_option("-o,--out", o->out, "Output PNG")->capture_default_str();
  cmd->add_option("--animate", o->animate,
                  "Also write the flow t = 0 → 1: a video (.mp4, .webm, .avi) or a strip of 5 panels (.png)");
  cmd->add_option("--frames", o->frames, "Frames of the --animate video")
      ->check(CLI::Range(2, 10000))
      ->capture_default_str();
  cmd->add_option("--animate-size", o->animate_size,
                  "Shorter side of the --animate frames and panels, pixels")
      ->check(CLI::Range(64, 4096))
      ->capture_default_str();
  cmd->add_option("--save-momenta", o->save_momenta, "Write the momenta α(0) as a .pts file");
  cmd->add_option("--save-points", o->save_points,
                  "With --fit: write the fitted landmarks (image pixels) as a .pts file");
  cmd->callback([&action, o] { action = [o] { return run_render(*o); }; });
}

}  // namespace lddmm::app
