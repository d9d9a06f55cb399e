#include "lddmm/tracker.hpp"

#include <torch/cuda.h>
#include <torch/torch.h>

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "lddmm/correspondence.hpp"
#include "lddmm/register.hpp"
#include "lddmm/tensor_points.hpp"
#include "lddmm/trainer.hpp"

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

class LddmmBackend : public AlignBackend {
 public:
  LddmmBackend(Aligner model, const LddmmBackendOptions& o) : model_(std::move(model)), options_(o) {
    model_->eval();
    device_ =
        (o.cuda && torch::cuda::is_available()) ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
    model_->to(device_);
    model_->fold_batch_norms();
    if (device_.is_cpu()) model_->use_channels_last();  // faster at batch 1–2 (bench_model, README)
    const Scheme& s = model_->scheme();
    const int S = model_->config().input_size;
    scale_ = S / s.mean_face.frame;
    output_ = s;
    if (!o.output_scheme.empty() && o.output_scheme != s.id) {
      if (model_->config().head != Head::Lddmm)
        throw std::runtime_error("a coordinate-regression model predicts only its own scheme (" + s.id + ")");
      output_ = find_scheme(o.output_scheme);
      // Into the network's input frame: source points × scale_, target points × S / target frame.
      corr_ = rescale(correspond(s, output_), scale_, S / output_.mean_face.frame);
    }
    if (o.grid_cells > 0) {
      grid_ = make_grid(s, o.grid_cells);
      grid_nodes_ = points_to_tensor(grid_.nodes * scale_).to(torch::kFloat32);
      grid_curve_ = torch::tensor(grid_.curve, torch::kInt64);
    }
    partners_ = mirror_partners(s);
    output_partners_ = mirror_partners(output_);
    describe_ = s.id + " model (" +
                std::string(model_->config().head == Head::Lddmm ? "LDDMM" : "coordinates") + ", " +
                std::to_string(S) + " px" +
                (model_->config().detail.factor > 1
                     ? ", backbone " + std::to_string(S / model_->config().detail.factor) + " px"
                     : "") +
                (model_->config().detail.patch > 0 ? ", detail term" : "") + ") on " +
                (device_.is_cuda() ? "CUDA" : "CPU");
  }
  const Scheme& scheme() const override { return model_->scheme(); }
  const Scheme& output_scheme() const override { return output_; }
  std::string describe() const override { return describe_; }

  bool mirrors() const override { return options_.flip; }
  std::vector<AlignedFace> align(const cv::Mat& bgr, const std::vector<FaceCrop>& crops,
                                 bool with_flow) override {
    return run(bgr, crops, with_flow, options_.flip ? View::Both : View::Direct);
  }
  std::vector<AlignedFace> align_mirrored(const cv::Mat& bgr, const std::vector<FaceCrop>& crops) override {
    return run(bgr, crops, false, View::Mirrored);
  }

 private:
  enum class View { Direct, Mirrored, Both };

  std::vector<AlignedFace> run(const cv::Mat& bgr, const std::vector<FaceCrop>& crops, bool with_flow,
                               View view) {
    std::vector<AlignedFace> out(crops.size());
    if (crops.empty()) return out;
    const int S = model_->config().input_size;
    const auto B = static_cast<int64_t>(crops.size());
    torch::Tensor batch = torch::empty({B, 3, S, S}, torch::kFloat32);
    std::vector<Affine2> maps(crops.size()), back(crops.size());
    for (size_t i = 0; i < crops.size(); ++i) {
      const FaceCrop& c = crops[i];
      maps[i] = crop_face(bgr, c.centre, 1.25 * c.side, c.angle, S, model_->config().mean,
                          model_->config().std, batch[static_cast<int64_t>(i)].data_ptr<float>());
      back[i] = invert_affine(maps[i]);
    }
    torch::InferenceMode guard;
    const torch::Tensor x = batch.to(device_);
    // With mirroring, the crops and their mirror images go through the network as one batch of 2B.
    const bool direct = view != View::Mirrored, mirrored = view != View::Direct;
    const torch::Tensor input = view == View::Both ? torch::cat({x, x.flip({3})})
                                : mirrored         ? x.flip({3})
                                                   : x;
    const torch::Tensor heads = model_->head_output(input);
    const torch::Tensor head = view == View::Both ? heads.narrow(0, 0, B) : heads;
    const bool lddmm = model_->config().head == Head::Lddmm;
    const torch::Tensor tmpl = model_->template_points();
    const Calibration& cal = model_->config().calibration;
    const torch::Tensor to_crop =
        cal.has_image_term() ? image_to_crop_maps(maps).to(device_) : torch::Tensor();  // the frame's pixels
    torch::Tensor all = lddmm ? model_->layer().forward(tmpl, heads) : tmpl.unsqueeze(0) + heads;
    torch::Tensor all_carried;
    if (corr_) all_carried = carry_points(model_->layer(), *corr_, tmpl, heads);
    // Each view's landmarks, calibrated; the mirrored crops' mirrored back (x → S − 1 − x, i ↔ partner).
    const auto combine = [&](const torch::Tensor& t, const std::vector<int>& partners) {
      const torch::Tensor d = direct
                                  ? calibrate_points(t.narrow(0, 0, B), cal.direct, cal.direct_image, to_crop)
                                  : torch::Tensor();
      if (!mirrored) return d;
      const torch::Tensor m = calibrate_points(mirror_back(t.narrow(0, direct ? B : 0, B), partners, S),
                                               cal.mirrored, cal.mirrored_image, to_crop);
      return direct ? merge_mirrored(d, m, partners) : m;
    };
    const torch::Tensor pts = combine(all, partners_);
    const torch::Tensor pts_cpu = pts.to(torch::kCPU, torch::kFloat64);
    torch::Tensor carried;
    if (corr_) carried = combine(all_carried, output_partners_).to(torch::kCPU, torch::kFloat64);
    std::optional<FlowTrace> trace;
    if (with_flow && lddmm && direct)
      trace = model_->layer().trace(
          tmpl, head, grid_nodes_.defined() ? grid_nodes_.to(tmpl.device()) : grid_nodes_, grid_curve_);
    const Points tmpl_pts = trace ? tensor_to_points(tmpl) : Points();
    for (size_t i = 0; i < crops.size(); ++i) {
      const auto b = static_cast<int64_t>(i);
      AlignedFace& f = out[i];
      f.points = apply_affine(back[i], tensor_to_points(pts_cpu[b]));
      f.output = corr_ ? apply_affine(back[i], tensor_to_points(carried[b])) : f.points;
      if (trace) {
        FaceFlow fl;
        fl.template_points = apply_affine(back[i], tmpl_pts);
        fl.momenta = vectors_through(back[i], tensor_to_points(head[b]));
        for (int64_t k = 0; k < trace->point_path.size(0); ++k)
          fl.trajectory.push_back(apply_affine(back[i], tensor_to_points(trace->point_path[k][b])));
        if (trace->extra.defined()) {
          fl.grid = apply_affine(back[i], tensor_to_points(trace->extra[b]));
          const torch::Tensor det = trace->extra_det[b].to(torch::kCPU, torch::kFloat64).contiguous();
          fl.grid_det.assign(det.data_ptr<double>(), det.data_ptr<double>() + det.numel());
          fl.grid_curve = grid_.curve;
          fl.grid_cells = grid_.cells;
        }
        f.flow = std::move(fl);
      }
    }
    return out;
  }

  Aligner model_;
  LddmmBackendOptions options_;
  torch::Device device_{torch::kCPU};
  double scale_ = 1;
  Scheme output_;
  std::optional<Correspondence> corr_;
  Grid grid_;
  torch::Tensor grid_nodes_, grid_curve_;
  std::vector<int> partners_, output_partners_;
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
  LandmarkSmoother smoother;
};

}  // namespace

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
  bool mirrors() const override { return members_.front()->mirrors(); }
  std::vector<AlignedFace> align(const cv::Mat& bgr, const std::vector<FaceCrop>& crops,
                                 bool with_flow) override {
    return mean([&](AlignBackend& b, bool first) { return b.align(bgr, crops, with_flow && first); });
  }
  std::vector<AlignedFace> align_mirrored(const cv::Mat& bgr, const std::vector<FaceCrop>& crops) override {
    return mean([&](AlignBackend& b, bool) { return b.align_mirrored(bgr, crops); });
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
      }
    }
    const double share = 1.0 / static_cast<double>(members_.size());
    for (AlignedFace& f : out) {
      f.points *= share;
      f.output *= share;
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
  static const char* kName = "lddmm-300w68-w18l-128.pt";
  if (const char* env = std::getenv("LDDMM_MODEL")) return env;
  const std::filesystem::path res = scheme_dir().parent_path();
  for (const std::filesystem::path& dir : {res / "models", res.parent_path() / "models"})
    if (std::filesystem::exists(dir / kName)) return (dir / kName).string();
  return (res.parent_path() / "models" / kName).string();
}

std::vector<std::string> accurate_model_paths() {
  const std::filesystem::path first = default_model_path();
  const std::filesystem::path second = first.parent_path() / "lddmm-300w68-w18l-192.pt";
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

struct Tracker::Impl {
  std::unique_ptr<AlignBackend> backend;
  BoxMap map;
  TrackerOptions options;
  FaceDetector detector;
  std::vector<FaceTrack> tracks;
  int next_id = 1;
  int64_t frames_since_detection = 0;
  bool need_detection = true;
};

Tracker::Tracker(std::unique_ptr<AlignBackend> backend, const BoxMap& map, TrackerOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->backend = std::move(backend);
  impl_->map = map;
  impl_->options = options;
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

void Tracker::reset() {
  impl_->tracks.clear();
  impl_->need_detection = true;
  impl_->frames_since_detection = 0;
}

FrameResult Tracker::process(const Frame& frame) { return std::move(process_batch({frame}).front()); }

std::vector<FrameResult> Tracker::process_batch(const std::vector<Frame>& frames) {
  Impl& s = *impl_;
  const TrackerOptions& o = s.options;
  const auto t0 = Clock::now();
  if (frames.empty()) return {};
  for (const Frame& frame : frames)
    if (frame.image.empty() || frame.image.type() != CV_8UC3)
      throw std::invalid_argument("Tracker::process: needs a BGR 8-bit frame");
  if (o.stills) {
    // Unrelated photos: nothing carries over from one to the next.
    if (frames.size() > 1) {
      std::vector<FrameResult> results;
      for (const Frame& frame : frames) results.push_back(process_batch({frame}).front());
      return results;
    }
    s.tracks.clear();
    s.need_detection = true;
  }
  const Frame& first = frames.front();
  const auto K = static_cast<int64_t>(frames.size());
  std::vector<FrameResult> results(frames.size());
  for (size_t k = 0; k < frames.size(); ++k) {
    results[k].index = frames[k].index;
    results[k].time = frames[k].time;
  }

  // 1. Detection on the first frame, on schedule or when a face is missing.
  std::vector<bool> fresh(s.tracks.size(), false);
  std::vector<Box> new_faces;
  const bool due = s.need_detection || s.tracks.empty() || s.frames_since_detection + K >= o.detect_every;
  s.frames_since_detection += K;
  if (due) {
    const auto td = Clock::now();
    cv::Mat small = first.image;
    double f = 1.0;
    if (o.detect_width > 0 && first.image.cols > o.detect_width) {
      f = static_cast<double>(o.detect_width) / first.image.cols;
      cv::resize(first.image, small, cv::Size(), f, f, cv::INTER_AREA);
    }
    std::vector<Box> boxes = s.detector.detect(small, o.upsample);
    for (Box& b : boxes) {
      b.x /= f;
      b.y /= f;
      b.w /= f;
      b.h /= f;
    }
    // Greedy matching of detections to tracks by IoU of landmark boxes.
    std::vector<bool> used(boxes.size(), false);
    for (size_t ti = 0; ti < s.tracks.size(); ++ti) {
      const FaceTrack& t = s.tracks[ti];
      const Box tb = crop_box(t.crop);
      double best = 0.3;
      int pick = -1;
      for (size_t di = 0; di < boxes.size(); ++di) {
        if (used[di]) continue;
        const double v = iou(tb, s.map.apply(boxes[di]));
        if (v > best) {
          best = v;
          pick = static_cast<int>(di);
        }
      }
      if (pick >= 0) {
        used[static_cast<size_t>(pick)] = true;
        s.tracks[ti].misses = 0;
        s.tracks[ti].score = boxes[static_cast<size_t>(pick)].score;
        fresh[ti] = true;
      } else {
        ++s.tracks[ti].misses;
      }
    }
    for (size_t di = 0; di < boxes.size(); ++di)
      if (!used[di]) new_faces.push_back(boxes[di]);
    s.frames_since_detection = K - 1;
    s.need_detection = false;
    results.front().detector_ran = true;
    results.front().detect_ms = ms_since(td);
  }
  // Drop tracks the detector has not confirmed for too long.
  for (size_t ti = s.tracks.size(); ti-- > 0;) {
    if (s.tracks[ti].misses > o.max_misses) {
      s.tracks.erase(s.tracks.begin() + static_cast<std::ptrdiff_t>(ti));
      fresh.erase(fresh.begin() + static_cast<std::ptrdiff_t>(ti));
    }
  }
  for (const Box& b : new_faces) {
    if (static_cast<int>(s.tracks.size()) >= o.max_faces) break;
    FaceTrack t;
    t.id = s.next_id++;
    const Box lb = s.map.apply(b);
    t.crop.centre = {lb.cx(), lb.cy()};
    t.crop.side = lb.w;
    t.crop.detection = b;
    t.score = b.score;
    t.smoother = LandmarkSmoother(o.smoothing);
    s.tracks.push_back(std::move(t));
    fresh.push_back(true);
  }

  // 2. Alignment: every face of a frame in one batch; the frames of the batch on parallel threads (each
  //    with the same crops, planned from the last known landmarks).
  // Frame k of the batch is k frames staler than the first: its crop goes where the face will be by then,
  // predicted from the crop's motion over the last frame (constant velocity; none for a new face).
  std::vector<std::vector<FaceCrop>> planned(frames.size());
  for (size_t k = 0; k < frames.size(); ++k)
    for (const FaceTrack& t : s.tracks) {
      FaceCrop c = t.crop;
      if (o.predict_motion && t.previous && !t.crop.detection) {
        const double steps = static_cast<double>(k);
        c.centre += steps * (t.crop.centre - t.previous->centre);
        c.side = std::max(8.0, c.side + steps * (t.crop.side - t.previous->side));
        c.angle += steps * (t.crop.angle - t.previous->angle);
      }
      planned[k].push_back(c);
    }
  const std::vector<FaceCrop>& crops = planned.front();
  std::vector<std::vector<AlignedFace>> aligned(frames.size());
  std::vector<double> align_ms(frames.size(), 0);
  auto align_one = [&](size_t k) {
    const auto ta = Clock::now();
    aligned[k] = s.backend->align(frames[k].image, planned[k], o.flow);
    if (o.refine_new > 0 && s.backend->refines()) {
      std::vector<size_t> which;
      std::vector<FaceCrop> again;
      std::vector<AlignedFace> faces;
      for (size_t i = 0; i < planned[k].size(); ++i)
        if (planned[k][i].detection && aligned[k][i].points.allFinite()) {
          which.push_back(i);
          again.push_back(planned[k][i]);
          faces.push_back(std::move(aligned[k][i]));
        }
      if (!which.empty()) {
        // With a backend that mirrors every pass, more plain passes do not help (val.txt, `eval --flip`:
        // 3.286 % with one refinement, 3.291 with five): one.
        const int passes = s.backend->mirrors() ? std::min(o.refine_new, 1) : o.refine_new;
        refine_faces(*s.backend, frames[k].image, again, faces, passes, o.flow);
        for (size_t j = 0; j < which.size(); ++j) {
          aligned[k][which[j]] = std::move(faces[j]);
          planned[k][which[j]] = again[j];
        }
      }
    }
    align_ms[k] = ms_since(ta);
  };
  if (frames.size() == 1 || crops.empty()) {
    for (size_t k = 0; k < frames.size(); ++k) align_one(k);
  } else {
    std::vector<std::thread> helpers;
    std::vector<std::exception_ptr> errors(frames.size());
    for (size_t k = 1; k < frames.size(); ++k)
      helpers.emplace_back([&, k] {
        try {
          align_one(k);
        } catch (...) {
          errors[k] = std::current_exception();
        }
      });
    try {
      align_one(0);
    } catch (...) {
      errors[0] = std::current_exception();
    }
    for (auto& h : helpers) h.join();
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
  }

  // 3. Update tracks frame by frame; a face whose landmarks jump in size or place is lost (re-detect).
  const Scheme& scheme = s.backend->scheme();
  std::vector<bool> alive(s.tracks.size(), true);
  for (size_t k = 0; k < frames.size(); ++k) {
    const Frame& frame = frames[k];
    FrameResult& result = results[k];
    result.align_ms = align_ms[k];
    for (size_t ti = 0; ti < s.tracks.size(); ++ti) {
      if (!alive[ti]) continue;
      FaceTrack& t = s.tracks[ti];
      AlignedFace& a = aligned[k][ti];
      const bool finite = a.points.allFinite() && a.output.allFinite();
      FaceCrop next = finite ? crop_from_points(a.points, scheme) : FaceCrop{};
      const FaceCrop& used = planned[k][ti];
      const double ratio = next.side / std::max(used.side, 1e-9);
      const double moved = (next.centre - used.centre).norm() / std::max(used.side, 1e-9);
      const bool outside = next.centre.x() < 0 || next.centre.y() < 0 || next.centre.x() > frame.image.cols ||
                           next.centre.y() > frame.image.rows;
      if (!finite || ratio < 0.6 || ratio > 1.6 || moved > 0.5 || outside || next.side < 8) {
        s.need_detection = true;
        alive[ti] = false;
        continue;
      }
      t.previous = t.crop;
      t.crop = next;
      FaceResult r;
      r.id = t.id;
      r.score = t.score;
      r.detected = k == 0 && fresh[ti];
      r.raw = a.points;
      r.points = t.smoother.update(a.output, frame.time, next.side);
      r.box = landmark_box(r.points);
      r.flow = std::move(a.flow);
      result.faces.push_back(std::move(r));
    }
  }
  std::vector<FaceTrack> kept;
  for (size_t ti = 0; ti < s.tracks.size(); ++ti)
    if (alive[ti]) kept.push_back(std::move(s.tracks[ti]));
  // Two tracks on one face: keep the older.
  std::vector<int> dropped;
  for (size_t i = 0; i < kept.size(); ++i)
    for (size_t j = i + 1; j < kept.size(); ++j) {
      if (iou(crop_box(kept[i].crop), crop_box(kept[j].crop)) > 0.5)
        dropped.push_back(std::max(kept[i].id, kept[j].id));
    }
  s.tracks.clear();
  for (FaceTrack& t : kept)
    if (std::find(dropped.begin(), dropped.end(), t.id) == dropped.end()) s.tracks.push_back(std::move(t));
  for (FrameResult& result : results) {
    auto& faces = result.faces;
    faces.erase(std::remove_if(faces.begin(), faces.end(),
                               [&](const FaceResult& f) {
                                 return std::find(dropped.begin(), dropped.end(), f.id) != dropped.end();
                               }),
                faces.end());
    std::sort(faces.begin(), faces.end(),
              [](const FaceResult& a, const FaceResult& b) { return a.id < b.id; });
    result.total_ms = ms_since(t0) / static_cast<double>(frames.size());
  }
  return results;
}

}  // namespace lddmm
