#include "lddmm/track/tracker.hpp"

#include <torch/cuda.h>
#include <torch/torch.h>

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <thread>

#include "lddmm/face/views.hpp"
#include "lddmm/flow/blended_flow.hpp"
#include "lddmm/flow/correspondence.hpp"
#include "lddmm/flow/register.hpp"
#include "lddmm/flow/tensor_points.hpp"
#include "lddmm/io/scheme_files.hpp"
#include "lddmm/net/device.hpp"
#include "lddmm/net/predict.hpp"
#include "lddmm/track/associate.hpp"
#include "lddmm/track/candidates.hpp"
#include "lddmm/track/confidence.hpp"
#include "lddmm/track/detect.hpp"
#include "lddmm/track/detect_worker.hpp"

namespace lddmm {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

Points vectors_through(const Affine2& m, const Points& v) { return v * m.leftCols<2>().transpose(); }

/// The square landmark box a crop is centred on.
Box crop_box(const FaceCrop& c) {
  return {c.centre.x() - c.side / 2, c.centre.y() - c.side / 2, c.side, c.side, 0};
}

// The model on the device it runs on, batch norms folded, channels-last on a CPU (faster at batch 1–2).
Aligner ready_for_inference(Aligner model, const torch::Device& device) {
  model->eval();
  model->to(device);
  model->fold_batch_norms();
  if (device.is_cpu()) model->use_channels_last();
  return model;
}

// The scheme asked for, if any (the model's own carries nothing).
std::optional<Scheme> carried_scheme(const LddmmBackendOptions& o) {
  if (o.output_scheme.empty()) return std::nullopt;
  return find_scheme(o.output_scheme);
}

class LddmmBackend : public AlignBackend {
 public:
  LddmmBackend(Aligner model, const LddmmBackendOptions& o)
      : options_(o),
        device_(parse_device(o.device)),
        predictor_(ready_for_inference(std::move(model), device_), carried_scheme(o)) {
    const Aligner& m = predictor_.model();
    const Scheme& s = m->scheme();
    const int S = m->config().input_size;
    scale_ = S / s.mean_face.frame;
    template_ = tensor_to_points(m->template_points());
    output_ = o.output_scheme.empty() ? s : find_scheme(o.output_scheme);
    if (o.grid_cells > 0) {
      grid_ = make_grid(s, o.grid_cells);
      grid_crop_ = grid_.nodes * scale_;
      // The per-curve grid rides in the layer's trace; the continuous one is blended after it (flow_of).
      if (o.per_curve_grid) {
        grid_nodes_ = points_to_tensor(grid_crop_).to(torch::kFloat32);
        grid_curve_ = torch::tensor(grid_.curve, torch::kInt64);
      }
    }
    describe_ =
        s.id + " model (" + std::string(m->config().head == Head::Lddmm ? "LDDMM" : "coordinates") + ", " +
        std::to_string(S) + " px" +
        (m->config().detail.factor > 1 ? ", backbone " + std::to_string(S / m->config().detail.factor) + " px"
                                       : "") +
        (m->config().detail.patch > 0 ? ", detail term" : "") + ") on " +
        (device_.is_cuda() ? "CUDA" : "CPU");
  }
  const Scheme& scheme() const override { return predictor_.scheme(); }
  const Scheme& output_scheme() const override { return output_; }
  std::string describe() const override { return describe_; }

  bool mirrors() const override { return options_.flip; }
  bool estimates() const override { return !predictor_.model()->config().confidence.empty(); }
  void set_grid(bool on) override { grid_on_ = on; }
  std::vector<AlignedFace> align(const cv::Mat& bgr, const std::vector<FaceCrop>& crops,
                                 bool with_flow) override {
    return run(bgr, crops, with_flow, options_.flip ? Views::Both : Views::Direct);
  }
  // Both views in one batch; the landmarks stay the crop's own unless every pass mirrors.
  std::vector<AlignedFace> align_checked(const cv::Mat& bgr, const std::vector<FaceCrop>& crops,
                                         bool with_flow) override {
    return run(bgr, crops, with_flow, Views::Both, !options_.flip);
  }
  std::vector<AlignedFace> align_mirrored(const cv::Mat& bgr, const std::vector<FaceCrop>& crops) override {
    return run(bgr, crops, false, Views::Mirrored);
  }

 private:
  std::vector<AlignedFace> run(const cv::Mat& bgr, const std::vector<FaceCrop>& crops, bool with_flow,
                               Views views, bool direct_only = false) {
    std::vector<AlignedFace> out(crops.size());
    if (crops.empty()) return out;
    const AlignerConfig& cfg = predictor_.model()->config();
    const int S = cfg.input_size;
    torch::Tensor batch = torch::empty({static_cast<int64_t>(crops.size()), 3, S, S}, torch::kFloat32);
    std::vector<Affine2> maps(crops.size()), back(crops.size());
    for (size_t i = 0; i < crops.size(); ++i) {
      const FaceCrop& c = crops[i];
      maps[i] = crop_face(bgr, c.centre, 1.25 * c.side, c.angle, S, cfg.mean, cfg.std,
                          batch[static_cast<int64_t>(i)].data_ptr<float>());
      back[i] = invert_affine(maps[i]);
    }
    torch::InferenceMode guard;
    const torch::Tensor to_crop =  // the frame's pixels → the crops', for a calibration's image part
        cfg.calibration.has_image_term() ? image_to_crop_maps(maps).to(device_) : torch::Tensor();
    const ViewPoints v =
        grid_on_ ? predictor_.run(batch.to(device_), views, to_crop, with_flow, grid_nodes_, grid_curve_)
                 : predictor_.run(batch.to(device_), views, to_crop, with_flow);
    // The landmarks reported: the one view, both merged, or with `direct_only` the crop's own.
    const auto cpu = [](const torch::Tensor& t) { return t.to(torch::kCPU, torch::kFloat64); };
    const torch::Tensor pts = cpu(direct_only ? v.direct : predictor_.landmarks(v));
    const torch::Tensor carried =
        predictor_.carries() ? cpu(direct_only ? v.carried_direct : predictor_.carried(v)) : torch::Tensor();
    const torch::Tensor d = v.direct.defined() && v.mirrored.defined() ? cpu(v.direct) : torch::Tensor(),
                        m = d.defined() ? cpu(v.mirrored) : torch::Tensor(),
                        e = v.error.defined() ? cpu(v.error) : torch::Tensor();
    for (size_t i = 0; i < crops.size(); ++i) {
      const auto b = static_cast<int64_t>(i);
      AlignedFace& f = out[i];
      f.points = apply_affine(back[i], tensor_to_points(pts[b]));
      f.output = carried.defined() ? apply_affine(back[i], tensor_to_points(carried[b])) : f.points;
      // With both views: their disagreement, the confidence's measure.
      f.disagreement = d.defined() ? view_disagreement(tensor_to_points(d[b]), tensor_to_points(m[b]))
                                   : std::numeric_limits<double>::quiet_NaN();
      if (e.defined()) f.estimated_error = e[b].item<double>();
      if (v.trace) f.flow = flow_of(*v.trace, v.head[b], b, back[i]);
    }
    return out;
  }

  // The flow of face b, carried from its crop to the frame by `back`.
  FaceFlow flow_of(const FlowTrace& trace, const torch::Tensor& head, int64_t b, const Affine2& back) const {
    FaceFlow fl;
    fl.template_points = apply_affine(back, template_);
    fl.momenta = vectors_through(back, tensor_to_points(head));
    for (int64_t k = 0; k < trace.point_path.size(0); ++k)
      fl.trajectory.push_back(apply_affine(back, tensor_to_points(trace.point_path[k][b])));
    if (trace.extra.defined()) {
      fl.grid = apply_affine(back, tensor_to_points(trace.extra[b]));
      const torch::Tensor det = trace.extra_det[b].to(torch::kCPU, torch::kFloat64).contiguous();
      fl.grid_det.assign(det.data_ptr<double>(), det.data_ptr<double>() + det.numel());
      fl.grid_curve = grid_.curve;
      fl.grid_cells = grid_.cells;
    } else if (grid_.cells > 0 && grid_on_) {
      const Aligner& m = predictor_.model();
      const BlendedPaths g = blend_trace(m->layer(), trace, b, grid_crop_, m->config().input_size);
      fl.grid = apply_affine(back, g.nodes.back());
      fl.grid_det = g.det;
      fl.grid_cells = grid_.cells;
    }
    return fl;
  }

  LddmmBackendOptions options_;
  torch::Device device_;
  Predictor predictor_;
  double scale_ = 1;
  Points template_;  // the mean face in the network's input frame
  Scheme output_;
  Grid grid_;
  Points grid_crop_;                       // grid nodes in the crop's pixels
  bool grid_on_ = true;                    // set_grid
  torch::Tensor grid_nodes_, grid_curve_;  // the same for the layer's trace (per-curve grid only)
  std::string describe_;
};

class DlibBackend : public AlignBackend {
 public:
  explicit DlibBackend(const BoxMap& map) : map_(map), scheme_(find_scheme("300w68")) {}
  const Scheme& scheme() const override { return scheme_; }
  const Scheme& output_scheme() const override { return scheme_; }
  std::string describe() const override { return "dlib 68-point shape predictor"; }
  // dlib's predictor is made for its detector's box: a second pass from the box its landmarks imply
  // (mapped back) hurts it (sample clip NME 5.96 → 10.2 %).
  bool refines() const override { return false; }
  bool checks() const override { return false; }
  bool steady() const override { return false; }
  std::vector<AlignedFace> align(const cv::Mat& bgr, const std::vector<FaceCrop>& crops, bool) override {
    std::vector<AlignedFace> out(crops.size());
    for (size_t i = 0; i < crops.size(); ++i) {
      const FaceCrop& c = crops[i];
      const Box box = c.detection ? *c.detection : map_.invert(crop_box(c));
      out[i].points = predictor_.predict(bgr, box);
      out[i].output = out[i].points;
    }
    return out;
  }

 private:
  BoxMap map_;
  Scheme scheme_;
  ShapePredictor predictor_;
};

}  // namespace

void refine_faces(AlignBackend& backend, const cv::Mat& bgr, std::vector<FaceCrop>& crops,
                  std::vector<AlignedFace>& faces, int passes, bool with_flow) {
  if (crops.size() != faces.size()) throw std::invalid_argument("refine_faces: one crop per face is needed");
  if (passes <= 0 || faces.empty()) return;
  // Every pass of a backend that mirrors every pass is already two views: it just aligns again.
  const bool views = !backend.mirrors();
  const std::vector<int> partners = views ? mirror_partners(backend.scheme()) : std::vector<int>{},
                         output_partners =
                             views ? mirror_partners(backend.output_scheme()) : std::vector<int>{};
  const auto n = faces.size();
  std::vector<std::vector<double>> seen(n, std::vector<double>(partners.size(), 1.0)),
      output_seen(n, std::vector<double>(output_partners.size(), 1.0));
  for (int pass = 1; pass <= passes; ++pass) {
    std::vector<size_t> which;
    std::vector<FaceCrop> again;
    for (size_t i = 0; i < n; ++i)
      if (faces[i].points.allFinite()) {
        which.push_back(i);
        again.push_back(crop_from_points(faces[i].points, backend.scheme()));
        if (views) again.back().side *= view_scale(pass);
      }
    if (again.empty()) return;
    // Odd passes see the mirror image of the crop, even ones the crop (as `evaluate` alternates).
    const bool mirrored = views && pass % 2 == 1;
    // A backend that mirrors every pass replaces the landmarks, and its last pass the flow.
    std::vector<AlignedFace> next = mirrored
                                        ? backend.align_mirrored(bgr, again)
                                        : backend.align(bgr, again, with_flow && !views && pass == passes);
    for (size_t j = 0; j < which.size(); ++j) {
      const size_t i = which[j];
      AlignedFace& a = faces[i];
      crops[i] = again[j];
      if (!next[j].points.allFinite() || !next[j].output.allFinite()) continue;  // a lost view adds nothing
      if (views) {
        add_view(a.points, seen[i], next[j].points, partners, mirrored);
        add_view(a.output, output_seen[i], next[j].output, output_partners, mirrored);
      } else {
        a = std::move(next[j]);
      }
    }
  }
}

namespace {

struct FaceTrack {
  int id = 0;
  FaceCrop crop;                     // where to look on the next frame
  std::optional<FaceCrop> previous;  // the crop one frame earlier (for the motion prediction)
  double score = 0;
  int misses = 0;  // detector runs without a matching box
  double confidence = 1;
  bool doubted = false;  // under min_confidence at its last check: checked again on the next frame
  LandmarkSmoother smoother;
};

}  // namespace

std::vector<AlignedFace> AlignBackend::align_checked(const cv::Mat& bgr, const std::vector<FaceCrop>& crops,
                                                     bool with_flow) {
  std::vector<AlignedFace> faces = align(bgr, crops, with_flow);
  const std::vector<AlignedFace> mirrored = align_mirrored(bgr, crops);
  for (size_t i = 0; i < faces.size(); ++i)
    faces[i].disagreement = view_disagreement(faces[i].points, mirrored[i].points);
  return faces;
}

std::unique_ptr<AlignBackend> make_lddmm_backend(Aligner model, const LddmmBackendOptions& options) {
  return std::make_unique<LddmmBackend>(std::move(model), options);
}

class EnsembleBackend : public AlignBackend {
 public:
  explicit EnsembleBackend(std::vector<std::unique_ptr<AlignBackend>> members)
      : members_(std::move(members)) {
    const AlignBackend& first = *members_.front();
    describe_ = "ensemble of " + std::to_string(members_.size()) + ":";
    for (const auto& m : members_) {
      if (m->scheme().id != first.scheme().id || m->output_scheme().id != first.output_scheme().id)
        throw std::runtime_error("the models of an ensemble must predict one scheme (" + first.scheme().id +
                                 ", " + m->scheme().id + ")");
      if (m->mirrors() != first.mirrors())
        throw std::runtime_error("the models of an ensemble must all mirror or none");
      describe_ += " " + m->describe() + (&m == &members_.back() ? "" : ";");
    }
  }
  const Scheme& scheme() const override { return members_.front()->scheme(); }
  const Scheme& output_scheme() const override { return members_.front()->output_scheme(); }
  std::string describe() const override { return describe_; }
  bool refines() const override { return members_.front()->refines(); }
  bool checks() const override { return members_.front()->checks(); }
  bool estimates() const override {
    return std::all_of(members_.begin(), members_.end(), [](const auto& m) { return m->estimates(); });
  }
  bool steady() const override { return members_.front()->steady(); }
  bool mirrors() const override { return members_.front()->mirrors(); }
  void set_grid(bool on) override {
    for (auto& m : members_) m->set_grid(on);
  }
  std::vector<AlignedFace> align(const cv::Mat& bgr, const std::vector<FaceCrop>& crops,
                                 bool with_flow) override {
    return mean([&](AlignBackend& b, bool first) { return b.align(bgr, crops, with_flow && first); });
  }
  std::vector<AlignedFace> align_mirrored(const cv::Mat& bgr, const std::vector<FaceCrop>& crops) override {
    return mean([&](AlignBackend& b, bool) { return b.align_mirrored(bgr, crops); });
  }
  std::vector<AlignedFace> align_checked(const cv::Mat& bgr, const std::vector<FaceCrop>& crops,
                                         bool with_flow) override {
    return mean([&](AlignBackend& b, bool first) { return b.align_checked(bgr, crops, with_flow && first); });
  }

 private:
  template <class Run>
  std::vector<AlignedFace> mean(const Run& run) {
    std::vector<AlignedFace> out = run(*members_.front(), true);
    for (size_t m = 1; m < members_.size(); ++m) {
      const std::vector<AlignedFace> more = run(*members_[m], false);
      for (size_t i = 0; i < out.size(); ++i) {
        out[i].points += more[i].points;
        out[i].output += more[i].output;
        out[i].disagreement += more[i].disagreement;
        out[i].estimated_error += more[i].estimated_error;
      }
    }
    const double share = 1.0 / static_cast<double>(members_.size());
    for (AlignedFace& f : out) {
      f.points *= share;
      f.output *= share;
      f.disagreement *= share;
      f.estimated_error *= share;
    }
    return out;
  }

  std::vector<std::unique_ptr<AlignBackend>> members_;
  std::string describe_;
};

std::unique_ptr<AlignBackend> make_ensemble_backend(std::vector<std::unique_ptr<AlignBackend>> members) {
  if (members.empty()) throw std::invalid_argument("make_ensemble_backend: no backend");
  if (members.size() == 1) return std::move(members.front());
  return std::make_unique<EnsembleBackend>(std::move(members));
}

std::unique_ptr<AlignBackend> make_dlib_backend(const BoxMap& map) {
  return std::make_unique<DlibBackend>(map);
}

std::string default_model_path() {
  static const char* kName = "lddmm-300w68-256-detail.pt";
  if (const char* env = std::getenv("LDDMM_MODEL")) return env;
  const std::filesystem::path res = scheme_dir().parent_path();
  for (const std::filesystem::path& dir : {res / "models", res.parent_path() / "models"})
    if (std::filesystem::exists(dir / kName)) return (dir / kName).string();
  return (res.parent_path() / "models" / kName).string();
}

std::vector<std::string> accurate_model_paths() {
  const std::filesystem::path first = default_model_path();
  const std::filesystem::path second = first.parent_path() / "lddmm-300w68-384-detail.pt";
  if (!std::filesystem::exists(second))
    throw std::runtime_error(second.string() + ": not found (the accurate mode needs both shipped models)");
  return {first.string(), second.string()};
}

std::unique_ptr<AlignBackend> make_model_backend(const std::vector<std::string>& files,
                                                 const LddmmBackendOptions& options) {
  std::vector<std::unique_ptr<AlignBackend>> members;
  for (const std::string& file : files) members.push_back(make_lddmm_backend(load_model(file), options));
  return make_ensemble_backend(std::move(members));
}

FaceCrop crop_from_points(const Points& p, const Scheme& scheme) {
  const UprightBox u = upright_box(p, scheme);
  FaceCrop c;
  c.centre = u.centre;
  c.side = u.side;
  c.angle = u.angle;
  return c;
}

FaceCrop predict_crop(const FaceCrop& now, const FaceCrop& before, int frames_ahead, double min_side) {
  const double steps = frames_ahead;
  FaceCrop c = now;
  c.centre += steps * (now.centre - before.centre);
  c.side = std::max(min_side, now.side + steps * (now.side - before.side));
  c.angle += steps * (now.angle - before.angle);
  return c;
}

struct Tracker::Impl {
  struct Scan {
    ScanPlan plan;  // disabled for a scan of a region (it counts no misses)
    std::vector<Box> boxes;
    int id = 0;  // a region's scan: the lost track it looks for, whose id a face found there takes
  };
  struct Lost {
    int id;
    FaceCrop crop;                // where it was last
    Eigen::RowVector2d velocity;  // pixels a frame
  };
  std::unique_ptr<AlignBackend> backend;
  BoxMap map;
  TrackerOptions options;
  FaceDetector detector;                    // the quick scan (and stills), on the aligner's thread
  std::unique_ptr<DetectionWorker> worker;  // the thorough scan
  std::vector<FaceTrack> tracks;
  int next_id = 1;
  int64_t frames_since_detection = 0;
  bool need_detection = true;
  bool live = false;
  std::vector<Lost> lost;           // tracks lost by a jump on the last batch: looked for again on the next
  CandidateBoxes candidates{1, 0};  // weak boxes of a thorough scan, looked at again (TrackerOptions)
  // Detector boxes that failed a new face's check (landmark boxes) and the frame: not tried again for a
  // while.
  std::vector<std::pair<Box, int64_t>> rejected;
  int64_t last_scan = std::numeric_limits<int64_t>::min() / 2;  // live: the frame of the last thorough scan

  /// The detector's threshold: lowered by `detect_threshold` where the network checks new boxes; dlib's
  /// predictor (no check) and photos (no second frame to confirm a face) take at most kUncheckedThreshold.
  double threshold() const {
    constexpr double kUncheckedThreshold = -0.4;
    return backend->checks() && !options.stills ? options.detect_threshold
                                                : std::max(options.detect_threshold, kUncheckedThreshold);
  }
  ScanPlan quick_plan(cv::Size size) const {
    ScanPlan p = plan_width(size, options.detect_width, options.upsample);
    p.threshold = threshold();
    return p;
  }
  /// The thorough scan, when it finds smaller faces than the quick one.
  std::optional<ScanPlan> thorough_plan(cv::Size size) const {
    ScanPlan p = options.stills ? plan_min_face(size, options.stills_min_face, 4 * options.max_scan_pixels)
                                : plan_min_face(size, options.min_face, options.max_scan_pixels);
    if (!p.enabled() || p.min_face >= 0.9 * quick_plan(size).min_face) return std::nullopt;
    p.threshold = threshold() - (options.stills ? 0 : options.candidate_margin);
    return p;
  }
  /// A file's scan fixed by its frame number (the thorough one every scan_every frames, else the quick one
  /// every detect_every), run on the detection thread ahead of the aligner; none for cameras and stills.
  std::optional<ScanPlan> scheduled(const Frame& f) const {
    if (live || options.stills || f.image.empty()) return std::nullopt;
    if (f.index % std::max(1, options.scan_every) == 0)
      if (const auto plan = thorough_plan(f.image.size())) return plan;
    if (f.index % std::max(1, options.detect_every) == 0) return quick_plan(f.image.size());
    return std::nullopt;
  }

  std::vector<Scan> detect(const std::vector<Frame>& frames, FrameResult& first);
  void background_scans(const std::vector<Frame>& frames, std::vector<Scan>& scans);
  std::vector<bool> associate_scans(const std::vector<Scan>& scans, cv::Size size, int64_t frame);
  void look_again(const cv::Mat& image, int64_t frame, std::vector<Scan>& scans);
  bool start_track(const Box& box, const Box& mapped, int lost_id);
  std::vector<std::vector<FaceCrop>> plan_crops(size_t count) const;
  void align(const Frame& frame, std::vector<FaceCrop>& crops, std::vector<AlignedFace>& aligned) const;
  bool doubtful(FaceTrack& t, const FaceConfidence& confidence) const;
  void update(const std::vector<Frame>& frames, const std::vector<std::vector<FaceCrop>>& planned,
              std::vector<std::vector<AlignedFace>>& aligned,
              const std::vector<std::vector<FaceConfidence>>& confidence, const std::vector<bool>& fresh,
              std::vector<FrameResult>& results);
};

Tracker::Tracker(std::unique_ptr<AlignBackend> backend, const BoxMap& map, TrackerOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->backend = std::move(backend);
  impl_->map = map;
  impl_->options = options;
  impl_->candidates = CandidateBoxes(options.candidate_every, options.candidate_looks);
  impl_->worker = std::make_unique<DetectionWorker>(0);
}
Tracker::~Tracker() = default;
Tracker::Tracker(Tracker&&) noexcept = default;
Tracker& Tracker::operator=(Tracker&&) noexcept = default;

const AlignBackend& Tracker::backend() const { return *impl_->backend; }
const TrackerOptions& Tracker::options() const { return impl_->options; }
void Tracker::set_smoothing(const SmoothingOptions& s) {
  impl_->options.smoothing = s;
  for (FaceTrack& t : impl_->tracks) t.smoother = LandmarkSmoother(s);
}
void Tracker::set_flow(bool flow) { impl_->options.flow = flow; }
void Tracker::set_grid(bool on) { impl_->backend->set_grid(on); }
void Tracker::set_live(bool live) {
  impl_->live = live;
  impl_->worker->set_nice(live ? 10 : 0);  // a camera: alignment first; a file: every core busy
}

void Tracker::reset(bool new_ids) {
  if (new_ids) impl_->next_id = 1;
  impl_->tracks.clear();
  impl_->need_detection = true;
  impl_->frames_since_detection = 0;
  impl_->worker->clear();
  impl_->lost.clear();
  impl_->candidates.clear();
  impl_->rejected.clear();
  impl_->last_scan = std::numeric_limits<int64_t>::min() / 2;
}

void Tracker::prefetch(const Frame& frame) {
  if (const auto plan = impl_->scheduled(frame)) impl_->worker->submit(frame.index, frame.image, *plan);
}

FrameResult Tracker::process(const Frame& frame) { return std::move(process_batch({frame}).front()); }

void Tracker::Impl::background_scans(const std::vector<Frame>& frames, std::vector<Scan>& scans) {
  if (!live && !options.stills) {
    for (const Frame& f : frames)
      if (const auto plan = scheduled(f)) scans.push_back({*plan, worker->wait(f.index, f.image, *plan)});
    return;
  }
  const std::optional<ScanPlan> plan = thorough_plan(frames.front().image.size());
  if (!plan) return;
  if (options.stills) {
    scans.push_back({*plan, scan_faces(detector, frames.front().image, *plan)});
  } else if (live) {
    // The boxes of an earlier frame: the faces have moved a little since; association allows for it.
    while (auto done = worker->poll()) scans.push_back({*plan, std::move(done->second)});
    const Frame& f = frames.back();
    if (!worker->busy() && (tracks.empty() || f.index - last_scan >= options.scan_every)) {
      worker->submit(f.index, f.image, *plan);
      last_scan = f.index;
    }
  }
}

std::vector<Tracker::Impl::Scan> Tracker::Impl::detect(const std::vector<Frame>& frames, FrameResult& first) {
  const auto td = Clock::now();
  std::vector<Scan> scans;
  background_scans(frames, scans);
  // A face lost by a jump (fast motion) is looked for where it was going, three times its size around.
  for (const Lost& l : lost) {
    const double side = 3 * l.crop.side + 2 * l.velocity.norm();
    const Eigen::RowVector2d c = l.crop.centre + 2 * l.velocity;
    const Box region{c.x() - side / 2, c.y() - side / 2, side, side, 0};
    scans.push_back(
        {ScanPlan{0, 0, 0}, scan_region(detector, frames.front().image, region, l.crop.side), l.id});
  }
  lost.clear();
  look_again(frames.front().image, frames.front().index, scans);
  // The quick scan on the aligner's thread: a camera's on its schedule; any source's while no face is
  // tracked or one was just lost, unless a scan of the frame's own is in already.
  const auto K = static_cast<int64_t>(frames.size());
  const bool own = std::any_of(scans.begin(), scans.end(), [](const Scan& sc) { return sc.id == 0; });
  const bool due =
      need_detection || tracks.empty() || (live && frames_since_detection + K >= options.detect_every);
  frames_since_detection += K;
  if (due && !own) {
    const ScanPlan quick = quick_plan(frames.front().image.size());
    scans.push_back({quick, scan_faces(detector, frames.front().image, quick)});
    frames_since_detection = K - 1;
    need_detection = false;
  }
  if (!scans.empty()) {
    first.detector_ran = true;
    first.detect_ms = ms_since(td);
  }
  return scans;
}

std::vector<bool> Tracker::Impl::associate_scans(const std::vector<Scan>& scans, cv::Size size,
                                                 int64_t frame) {
  std::vector<bool> fresh(tracks.size(), false);
  const TrackLimits& lim = options.limits;
  rejected.erase(std::remove_if(rejected.begin(), rejected.end(),
                                [&](const auto& r) {
                                  return frame - r.second > lim.rejected_frames || frame < r.second;
                                }),
                 rejected.end());
  if (scans.empty()) return fresh;
  std::vector<Box> found;
  std::vector<int> found_id;
  for (const Scan& sc : scans)
    for (const Box& b : sc.boxes) {
      found.push_back(b);
      found_id.push_back(sc.id);
    }
  const std::vector<Box> boxes = merge_boxes(found);
  // The lost track a kept box was looked for as (the id it resumes), if any.
  std::vector<int> box_id(boxes.size(), 0);
  for (size_t b = 0; b < boxes.size(); ++b)
    for (size_t f = 0; f < found.size(); ++f)
      if (found_id[f] != 0 && iou(found[f], boxes[b]) > lim.resume_iou) box_id[b] = found_id[f];
  std::vector<Box> mapped, track_boxes;
  for (const Box& b : boxes) mapped.push_back(map.apply(b));
  for (const FaceTrack& t : tracks) track_boxes.push_back(crop_box(t.crop));
  const std::vector<int> match = associate(track_boxes, mapped, lim.match_iou);
  std::vector<bool> used(boxes.size(), false);
  for (size_t ti = 0; ti < tracks.size(); ++ti) {
    FaceTrack& t = tracks[ti];
    if (match[ti] >= 0) {
      const auto b = static_cast<size_t>(match[ti]);
      used[b] = true;
      t.misses = 0;
      t.score = boxes[b].score;
      fresh[ti] = true;
      continue;
    }
    // Only a scan that should have found the face counts against it (not one too coarse for a small face,
    // nor a frontal detector for a face turned in the image).
    const Box seen = map.invert(track_boxes[ti]);
    if (std::any_of(scans.begin(), scans.end(),
                    [&](const Scan& sc) { return scan_sees(sc.plan, seen, t.crop.angle, size); }))
      ++t.misses;
  }
  for (size_t ti = tracks.size(); ti-- > 0;)
    if (tracks[ti].misses > options.max_misses) {
      tracks.erase(tracks.begin() + static_cast<std::ptrdiff_t>(ti));
      fresh.erase(fresh.begin() + static_cast<std::ptrdiff_t>(ti));
    }
  for (size_t b = 0; b < boxes.size(); ++b) {
    if (used[b]) continue;
    if (boxes[b].score < threshold()) {
      if (boxes[b].w >= options.min_face) candidates.add(boxes[b], frame);
    } else if (start_track(boxes[b], mapped[b], box_id[b])) {
      fresh.push_back(true);
    }
  }
  return fresh;
}

// The regions of weak boxes that are due (CandidateBoxes), scanned at the detector's threshold: a face found
// there starts as any scan's does.
void Tracker::Impl::look_again(const cv::Mat& image, int64_t frame, std::vector<Scan>& scans) {
  const auto tracked = [&](const Box& box) {
    const Box mapped = map.apply(box);
    return std::any_of(tracks.begin(), tracks.end(), [&](const FaceTrack& t) {
      return iou(crop_box(t.crop), mapped) > options.limits.match_iou;
    });
  };
  for (const Box& box : candidates.due(frame, tracked)) {
    const double side = 3 * box.w;  // the face has moved a little since
    const Box region{box.cx() - side / 2, box.cy() - side / 2, side, side, 0};
    scans.push_back({ScanPlan{0, 0, 0}, scan_region(detector, image, region, box.w, threshold())});
  }
}

// A new face from a detector box (`mapped`: its landmark box), unless there are enough faces or the box
// failed a check lately; a box looked for as a lost track resumes that track's id.
bool Tracker::Impl::start_track(const Box& box, const Box& mapped, int lost_id) {
  if (static_cast<int>(tracks.size()) >= options.max_faces) return false;
  if (std::any_of(rejected.begin(), rejected.end(),
                  [&](const auto& r) { return iou(r.first, mapped) > options.limits.rejected_iou; }))
    return false;
  FaceTrack t;
  const bool taken =
      std::any_of(tracks.begin(), tracks.end(), [&](const FaceTrack& o) { return o.id == lost_id; });
  t.id = lost_id != 0 && !taken ? lost_id : next_id++;
  t.crop.centre = {mapped.cx(), mapped.cy()};
  t.crop.side = mapped.w;
  t.crop.detection = box;
  t.score = box.score;
  t.smoother = LandmarkSmoother(options.smoothing);
  tracks.push_back(std::move(t));
  return true;
}

// A track's crop is from the frame before the batch, so frame k of the batch is k + 1 frames later: its crop
// goes where the face will be by then, predicted from the crop's motion over the last frame (constant
// velocity; none for a new face).
std::vector<std::vector<FaceCrop>> Tracker::Impl::plan_crops(size_t count) const {
  std::vector<std::vector<FaceCrop>> planned(count);
  const int ahead = backend->steady() ? 1 : 0;
  for (size_t k = 0; k < count; ++k)
    for (const FaceTrack& t : tracks) {
      const bool moving = options.predict_motion && t.previous && !t.crop.detection;
      planned[k].push_back(
          moving ? predict_crop(t.crop, *t.previous, static_cast<int>(k) + ahead, options.limits.min_side)
                 : t.crop);
    }
  return planned;
}

// Every face of a frame in one batch; a newly detected face gets more views (refine_faces).
void Tracker::Impl::align(const Frame& frame, std::vector<FaceCrop>& crops,
                          std::vector<AlignedFace>& aligned) const {
  // A confidence check is the crop's mirror image in the same batch (both views are compared): on schedule
  // (the frames of a batch together, so that neither waits for the other's extra views) and for new faces.
  const bool fresh = std::any_of(crops.begin(), crops.end(), [](const FaceCrop& c) { return c.detection; });
  // A face under min_confidence at its last check is checked again (check_verdict).
  const bool recheck =
      std::any_of(tracks.begin(), tracks.end(), [](const FaceTrack& t) { return t.doubted; });
  // A model that estimates every face's error is checked when its estimate doubts a face (recheck).
  const bool scheduled =
      !backend->estimates() && options.confidence_every > 0 &&
      frame.index % options.confidence_every < std::max(1, live ? 1 : options.parallel_frames);
  const bool check = options.confidence_every > 0 && (fresh || recheck || scheduled);
  aligned = check ? backend->align_checked(frame.image, crops, options.flow)
                  : backend->align(frame.image, crops, options.flow);
  if (options.refine_new <= 0 || !backend->refines()) return;
  std::vector<size_t> which;
  std::vector<FaceCrop> again;
  std::vector<AlignedFace> faces;
  // A new face that failed its check is let go in update(): no more views for it.
  const auto passed = [&](const AlignedFace& a) {
    return std::isnan(a.disagreement) ||
           confidence_of(a.disagreement, options.confidence_half) >= options.min_confidence;
  };
  for (size_t i = 0; i < crops.size(); ++i)
    if (crops[i].detection && aligned[i].points.allFinite() && passed(aligned[i])) {
      which.push_back(i);
      again.push_back(crops[i]);
      faces.push_back(std::move(aligned[i]));
    }
  if (which.empty()) return;
  std::vector<double> checked;
  for (size_t i : which) checked.push_back(aligned[i].disagreement);
  // With a backend that mirrors every pass, more plain passes do not help (val.txt, `eval --flip`:
  // 3.286 % with one refinement, 3.291 with five): one.
  const int passes = backend->mirrors() ? std::min(options.refine_new, 1) : options.refine_new;
  refine_faces(*backend, frame.image, again, faces, passes, options.flow);
  for (size_t j = 0; j < which.size(); ++j) {
    aligned[which[j]] = std::move(faces[j]);
    aligned[which[j]].disagreement = checked[j];  // the check was on the first view
    crops[which[j]] = again[j];
  }
}

// Records a frame's confidence and says whether the track is to be dropped for it (judge).
bool Tracker::Impl::doubtful(FaceTrack& t, const FaceConfidence& c) const {
  if (!std::isnan(c.reported())) t.confidence = c.reported();
  return judge(c, options.min_confidence, t.crop.detection.has_value(), t.doubted) == CheckVerdict::LetGo;
}

// Tracks move on frame by frame; a face whose landmarks jump in size or place is lost (re-detect), and of
// two tracks on one face the older is kept.
void Tracker::Impl::update(const std::vector<Frame>& frames,
                           const std::vector<std::vector<FaceCrop>>& planned,
                           std::vector<std::vector<AlignedFace>>& aligned,
                           const std::vector<std::vector<FaceConfidence>>& confidence,
                           const std::vector<bool>& fresh, std::vector<FrameResult>& results) {
  const Scheme& scheme = backend->scheme();
  std::vector<bool> alive(tracks.size(), true);
  for (size_t k = 0; k < frames.size(); ++k) {
    const cv::Mat& image = frames[k].image;
    for (size_t ti = 0; ti < tracks.size(); ++ti) {
      if (!alive[ti]) continue;
      FaceTrack& t = tracks[ti];
      AlignedFace& a = aligned[k][ti];
      const bool finite = a.points.allFinite() && a.output.allFinite();
      FaceCrop next = finite ? crop_from_points(a.points, scheme) : FaceCrop{};
      const FaceCrop& used = planned[k][ti];
      const double ratio = next.side / std::max(used.side, 1e-9);
      const double moved = (next.centre - used.centre).norm() / std::max(used.side, 1e-9);
      const bool outside = next.centre.x() < 0 || next.centre.y() < 0 || next.centre.x() > image.cols ||
                           next.centre.y() > image.rows;
      const bool is_new = t.crop.detection.has_value(), doubt = doubtful(t, confidence[k][ti]);
      if (is_new && doubt) {  // a box that is no face: remembered, so that it is not checked again and again
        rejected.emplace_back(crop_box(t.crop), frames[k].index);
        alive[ti] = false;
        continue;
      }
      const TrackLimits& lim = options.limits;
      const bool jumped = !finite || ratio < lim.min_side_ratio || ratio > lim.max_side_ratio ||
                          moved > lim.max_move || doubt;
      if (jumped || outside || next.side < lim.min_side) {
        need_detection = true;
        alive[ti] = false;
        if (!outside && t.previous) lost.push_back({t.id, t.crop, t.crop.centre - t.previous->centre});
        continue;
      }
      t.previous = t.crop;
      t.crop = next;
      FaceResult r;
      r.id = t.id;
      r.score = t.score;
      r.confidence = t.confidence;
      r.detected = k == 0 && fresh[ti];
      r.raw = a.points;
      r.points = t.smoother.update(a.output, frames[k].time, next.side);
      r.box = landmark_box(r.points);
      r.flow = std::move(a.flow);
      results[k].faces.push_back(std::move(r));
    }
  }
  std::vector<FaceTrack> kept;
  for (size_t ti = 0; ti < tracks.size(); ++ti)
    if (alive[ti]) kept.push_back(std::move(tracks[ti]));
  std::vector<int> dropped;
  for (size_t i = 0; i < kept.size(); ++i)
    for (size_t j = i + 1; j < kept.size(); ++j)
      if (iou(crop_box(kept[i].crop), crop_box(kept[j].crop)) > options.limits.duplicate_iou)
        dropped.push_back(std::max(kept[i].id, kept[j].id));
  const auto is_dropped = [&](int id) {
    return std::find(dropped.begin(), dropped.end(), id) != dropped.end();
  };
  tracks.clear();
  for (FaceTrack& t : kept)
    if (!is_dropped(t.id)) tracks.push_back(std::move(t));
  for (FrameResult& result : results) {
    auto& faces = result.faces;
    faces.erase(
        std::remove_if(faces.begin(), faces.end(), [&](const FaceResult& f) { return is_dropped(f.id); }),
        faces.end());
    std::sort(faces.begin(), faces.end(),
              [](const FaceResult& a, const FaceResult& b) { return a.id < b.id; });
  }
}

std::vector<FrameResult> Tracker::process_batch(const std::vector<Frame>& frames) {
  Impl& s = *impl_;
  const auto t0 = Clock::now();
  if (frames.empty()) return {};
  for (const Frame& frame : frames)
    if (frame.image.empty() || frame.image.type() != CV_8UC3)
      throw std::invalid_argument("Tracker::process: needs a BGR 8-bit frame");
  if (s.options.stills) {
    // Unrelated photos: nothing carries over from one to the next.
    if (frames.size() > 1) {
      std::vector<FrameResult> results;
      for (const Frame& frame : frames) results.push_back(process_batch({frame}).front());
      return results;
    }
    s.tracks.clear();
    s.need_detection = true;
  }
  std::vector<FrameResult> results(frames.size());
  for (size_t k = 0; k < frames.size(); ++k) {
    results[k].index = frames[k].index;
    results[k].time = frames[k].time;
  }
  // 1. Detect and associate (the batch's first frame stands for all).
  const std::vector<Impl::Scan> scans = s.detect(frames, results.front());
  const std::vector<bool> fresh = s.associate_scans(scans, frames.front().image.size(), frames.front().index);
  // 2. Plan crops and align: the frames of the batch on parallel threads, each with its own crops.
  std::vector<std::vector<FaceCrop>> planned = s.plan_crops(frames.size());
  std::vector<std::vector<AlignedFace>> aligned(frames.size());
  std::vector<std::vector<FaceConfidence>> confidence(frames.size());
  std::vector<std::exception_ptr> errors(frames.size());
  const auto align_one = [&](size_t k) {
    const auto ta = Clock::now();
    try {
      s.align(frames[k], planned[k], aligned[k]);
      for (const AlignedFace& a : aligned[k])
        confidence[k].push_back(
            {std::isnan(a.estimated_error) ? a.estimated_error
                                           : confidence_of(a.estimated_error, s.options.error_half),
             std::isnan(a.disagreement) ? a.disagreement
                                        : confidence_of(a.disagreement, s.options.confidence_half)});
    } catch (...) {
      errors[k] = std::current_exception();
    }
    results[k].align_ms = ms_since(ta);
  };
  std::vector<std::thread> helpers;
  if (!s.tracks.empty())
    for (size_t k = 1; k < frames.size(); ++k) helpers.emplace_back(align_one, k);
  for (size_t k = 0; k < frames.size(); ++k)
    if (k == 0 || s.tracks.empty()) align_one(k);
  for (auto& h : helpers) h.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  // 3. Update the tracks, smooth and emit.
  s.update(frames, planned, aligned, confidence, fresh, results);
  for (FrameResult& result : results) result.total_ms = ms_since(t0) / static_cast<double>(frames.size());
  return results;
}

}  // namespace lddmm
