// annotate, bench and sample-clip: the tracking engine on videos, cameras and images.
#include <dlib/filtering.h>
#include <torch/torch.h>

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "commands.hpp"
#include "interrupt.hpp"
#include "lddmm/core/progress.hpp"
#include "lddmm/core/safe_output.hpp"
#include "lddmm/core/temporal.hpp"
#include "lddmm/track/clip.hpp"
#include "lddmm/track/engine.hpp"
#include "lddmm/track/landmark_io.hpp"
#include "lddmm/track/render.hpp"
#include "lddmm/track/tracker.hpp"

namespace lddmm::app {
namespace fs = std::filesystem;
namespace {

struct EngineOpts {
  std::string input, scheme;
  std::vector<std::string> models;
  int min_face = TrackerOptions{}.min_face, scan_every = TrackerOptions{}.scan_every,
      check_every = TrackerOptions{}.confidence_every;
  double min_confidence = TrackerOptions{}.min_confidence,
         detect_threshold = TrackerOptions{}.detect_threshold;
  CLI::Option* min_face_option = nullptr;  // given: it sets the smallest face for photos too
  int detect_every = 10, detect_width = 320, upsample = 0, max_faces = 8, threads = 0, grid = 16,
      parallel = 0, refine = TrackerOptions{}.refine_new;
  bool no_smooth = false, cpu = false, dlib = false, flip = false, stills = false, no_refine = false,
       accurate = false;
  double min_cutoff = SmoothingOptions{}.min_cutoff, beta = SmoothingOptions{}.beta;
  std::string device = "auto";
};

void add_engine_options(CLI::App* cmd, EngineOpts& o, bool with_input = true) {
  if (with_input)
    cmd->add_option("input", o.input, "Video file, image, folder of images, camera index (0) or /dev/videoN")
        ->required();
  auto* model = cmd->add_option(
      "-m,--model", o.models,
      "Model file (default: the shipped model, or $LDDMM_MODEL); repeated, an ensemble: every crop "
      "goes to each model and their landmarks are averaged (more accurate, slower)");
  cmd->add_flag("--accurate", o.accurate,
                "The two shipped models as an ensemble: -m lddmm-300w68-256-detail.pt "
                "-m lddmm-300w68-384-detail.pt from the shipped models' folder")
      ->excludes(model);
  cmd->add_option(
      "-s,--scheme", o.scheme,
      "Output scheme: the model's (default), a scheme id (wflw98, helen194, ...) or ID@K (dense)");
  o.min_face_option =
      cmd->add_option("--min-face", o.min_face,
                      "Smallest face found, width in pixels (default 48, photos 32; 0: large only)")
          ->check(CLI::Range(0, 100000));
  cmd->add_option("--scan-every", o.scan_every, "Frames between scans for faces down to --min-face")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--check-every", o.check_every, "Frames between confidence checks (0: none)")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--min-confidence", o.min_confidence,
                  "A face under this confidence at two checks is let go")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--detect-threshold", o.detect_threshold,
                  "Added to the detector's threshold (lower: more faces)")
      ->capture_default_str()
      ->check(CLI::Range(-3.0, 3.0));
  cmd->add_option("--detect-every", o.detect_every, "Frames between quick scans while faces are tracked")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--detect-width", o.detect_width, "Width the quick scan sees (0: full frame)")
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--upsample", o.upsample, "Quick scan: double its image N times")->check(CLI::Range(0, 3));
  cmd->add_option("--max-faces", o.max_faces, "Most faces tracked at once")->check(CLI::Range(1, 64));
  cmd->add_flag("--no-smooth", o.no_smooth, "Turn the One-Euro landmark smoothing off");
  cmd->add_option("--min-cutoff", o.min_cutoff, "Smoothing: cutoff (Hz) of a still face")
      ->check(CLI::Range(0.001, 1000.0));
  cmd->add_option("--beta", o.beta, "Smoothing: cutoff increase per face size per second")
      ->check(CLI::Range(0.0, 1000.0));
  cmd->add_option("--threads", o.threads, "CPU threads (default: all cores)")->check(CLI::Range(1, 256));
  cmd->add_option("--parallel-frames", o.parallel,
                  "Files: frames aligned at once on separate threads (default: one per 1–2 threads, up to 2)")
      ->check(CLI::Range(1, 8));
  add_device_option(cmd, o.device);
  cmd->add_flag("--cpu", o.cpu, "Same as --device cpu")->group("");
  cmd->add_flag("--flip", o.flip,
                "Test-time mirroring: more accurate landmarks, the crop and its mirror image in one batch "
                "(about 1.6x the network time)");
  cmd->add_flag("--dlib", o.dlib, "Align with dlib's 68-point shape predictor instead of the model");
  auto* refine =
      cmd->add_option(
             "--refine", o.refine,
             "More views of a newly detected face, each in the crop its landmarks so far imply, in pairs "
             "(the crop's mirror image, then the crop) at 1, 0.9, 1.1, 0.8, 1.2 x that crop, averaged")
          ->capture_default_str()
          ->check(CLI::Range(0, 9));
  cmd->add_flag("--no-refine", o.no_refine, "Align a newly detected face once (--refine 0)")
      ->excludes(refine);
  cmd->add_flag(
      "--stills", o.stills,
      "Every image on its own (a folder of unrelated photos): detect on each, no tracking or smoothing");
}

int cores(int threads) {
  return threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

/// Frames aligned in parallel (files) and LibTorch threads per frame: on few cores small convolutions
/// scale badly across threads, so whole frames go to separate threads instead.
int parallel_frames(const EngineOpts& o) {
  return o.parallel > 0 ? o.parallel : std::min(2, cores(o.threads));
}

void set_threads(const EngineOpts& o) {
  torch::set_num_threads(std::max(1, cores(o.threads) / parallel_frames(o)));
}

Tracker make_tracker(const EngineOpts& o, bool flow) {
  const BoxMap map = BoxMap::installed();
  std::unique_ptr<AlignBackend> backend;
  if (o.dlib) {
    if (!o.scheme.empty() && o.scheme != "300w68")
      throw std::runtime_error("dlib's predictor gives only 300w68 points (drop --scheme or --dlib)");
    backend = make_dlib_backend(map);
  } else {
    LddmmBackendOptions bo;
    bo.output_scheme = o.scheme;
    bo.grid_cells = o.grid;
    bo.device = o.cpu ? "cpu" : o.device;
    bo.flip = o.flip;
    backend = make_model_backend(o.accurate         ? accurate_model_paths()
                                 : o.models.empty() ? std::vector<std::string>{default_model_path()}
                                                    : o.models,
                                 bo);
  }
  TrackerOptions to;
  to.min_face = o.min_face;
  if (o.min_face_option != nullptr && o.min_face_option->count() > 0) to.stills_min_face = o.min_face;
  to.scan_every = o.scan_every;
  to.confidence_every = o.check_every;
  to.detect_threshold = o.detect_threshold;
  to.min_confidence = o.min_confidence;
  to.detect_every = o.detect_every;
  to.detect_width = o.detect_width;
  to.upsample = o.upsample;
  to.max_faces = o.max_faces;
  to.parallel_frames = parallel_frames(o);
  to.flow = flow;
  to.stills = o.stills;
  to.refine_new = o.no_refine ? 0 : o.refine;
  to.smoothing.enabled = !o.no_smooth && !o.stills;
  to.smoothing.min_cutoff = o.min_cutoff;
  to.smoothing.beta = o.beta;
  return Tracker(std::move(backend), map, to);
}

std::string clock_text(double seconds) {
  if (!(seconds >= 0) || seconds > 360000) return "--:--";
  const int s = static_cast<int>(seconds + 0.5);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d:%02d", s / 60, s % 60);
  return buf;
}

// ---------------------------------------------------------------------------------------------- annotate

struct AnnotateOpts {
  EngineOpts e;
  std::string out, format, overlay, pts_dir;
  bool grid = true, momenta = true, quiet = false;
  int64_t max_frames = 0;
};

// What a run reads: the input (every file of an input folder) and the model files.
std::vector<fs::path> run_inputs(const EngineOpts& e) {
  std::vector<fs::path> in{e.input};
  std::error_code ec;
  if (fs::is_directory(e.input, ec))
    for (const auto& entry : fs::directory_iterator(e.input, ec)) in.push_back(entry.path());
  for (const std::string& m : e.models) in.push_back(m);
  return in;
}

// The landmark format: --format, else the output's extension (.csv, .json; anything else is refused).
LandmarkFormat annotate_format(const AnnotateOpts& o) {
  if (!o.format.empty()) return parse_landmark_format(o.format);
  const std::string ext = fs::path(o.out).extension().string();
  if (ext == ".json") return LandmarkFormat::Json;
  if (ext == ".csv") return LandmarkFormat::Csv;
  throw std::runtime_error(o.out + ": give a .csv or .json name, or --format csv|json|pts");
}

// The overlay video's writer code, from its extension (checked before anything runs).
int overlay_fourcc(const std::string& file) {
  const std::string ext = fs::path(file).extension().string();
  if (ext == ".avi") return cv::VideoWriter::fourcc('M', 'J', 'P', 'G');
  if (ext == ".mp4" || ext == ".mov" || ext == ".m4v") return cv::VideoWriter::fourcc('m', 'p', '4', 'v');
  throw std::runtime_error(file + ": the overlay is written as .mp4, .mov, .m4v or .avi");
}

// The overlay video, written under its partial name and renamed once closed.
class OverlayVideo {
 public:
  OverlayVideo(std::string file, double fps) : file_(std::move(file)), fps_(fps) {
    if (!file_.empty()) fourcc_ = overlay_fourcc(file_);
  }
  void write(const cv::Mat& canvas) {
    if (!video_.isOpened() &&
        !video_.open(partial_path(file_).string(), cv::CAP_FFMPEG, fourcc_, fps_, canvas.size()))
      throw std::runtime_error(file_ + ": cannot write the overlay video");
    video_.write(canvas);
  }
  // Closes and renames it (a run that wrote no frame leaves no file).
  void close() {
    if (!video_.isOpened()) return;
    video_.release();
    commit_partial(file_);
  }

 private:
  std::string file_;
  double fps_;
  int fourcc_ = 0;
  cv::VideoWriter video_;
};

struct AnnotateCounts {
  int64_t frames = 0, with_face = 0, detections = 0;
  std::map<int, int64_t> ids;
};

std::string progress_text(int64_t frames, int64_t total, double seconds, size_t faces) {
  const double fps = static_cast<double>(frames) / std::max(seconds, 1e-9);
  const std::string eta = total > 0 ? clock_text(static_cast<double>(total - frames) / std::max(fps, 1e-9))
                                    : std::string("--:--");
  char text[96];
  std::snprintf(text, sizeof text, "frames  %.1f fps  ETA %s  faces %zu", fps, eta.c_str(), faces);
  return text;
}

// The run's end: the summary, the items skipped, and the exit status (interrupted: 128 + the signal).
int annotate_status(const std::string& failure, const std::vector<std::string>& skipped, int64_t frames,
                    int64_t total_items) {
  for (const std::string& s : skipped) std::fprintf(stderr, "lddmm-face: skipped %s\n", s.c_str());
  if (!failure.empty()) throw std::runtime_error(failure + " (results up to then are saved)");
  if (interrupt_signal() != 0) {
    std::fprintf(stderr, "lddmm-face: interrupted; results up to frame %lld are saved\n",
                 static_cast<long long>(frames));
    return interrupted_status();
  }
  if (!skipped.empty())
    throw std::runtime_error(std::to_string(skipped.size()) + " of " + std::to_string(total_items) +
                             " images could not be read (the others are saved)");
  return 0;
}

int run_annotate(const AnnotateOpts& o) {
  using Clock = std::chrono::steady_clock;
  check_outputs(run_inputs(o.e), {o.out, o.pts_dir, o.overlay});
  const LandmarkFormat fmt = annotate_format(o);
  const std::string target = fmt == LandmarkFormat::Pts ? (o.pts_dir.empty() ? o.out : o.pts_dir) : o.out;
  const bool partial = fmt != LandmarkFormat::Pts;  // a folder of .pts files is complete file by file
  if (!o.overlay.empty()) overlay_fourcc(o.overlay);
  set_threads(o.e);
  Tracker tracker = make_tracker(o.e, !o.overlay.empty() && !o.e.dlib);
  const Scheme& model_scheme = tracker.backend().scheme();
  const Scheme& out_scheme = tracker.backend().output_scheme();
  auto source = open_source(o.e.input);
  const int64_t total = source->frame_count();
  const std::string described = source->describe();
  // Photos (a folder or one image): every row names its image file.
  auto writer = make_landmark_writer(fmt, partial ? partial_path(target) : fs::path(target), out_scheme.id,
                                     out_scheme.num_points, described, source->images());
  OverlayVideo video(o.overlay, source->fps());
  SceneOptions draw;
  draw.grid = o.grid;
  draw.momenta = o.momenta;

  Engine engine(std::move(source), tracker);
  const auto t0 = Clock::now();
  AnnotateCounts n;
  std::string failure;
  Progress progress(stderr, total, o.quiet);
  try {
    EngineOutput out;
    while (interrupt_signal() == 0 && engine.next(out)) {
      for (const LandmarkRow& r : rows_of(out.result, out.frame.name)) {
        writer->write(r);
        ++n.ids[r.face];
      }
      writer->end_frame(out.result.index, out.result.time, out.frame.name);
      ++n.frames;
      n.with_face += out.result.faces.empty() ? 0 : 1;
      n.detections += out.result.detector_ran ? 1 : 0;
      if (!o.overlay.empty()) {
        cv::Mat canvas = out.frame.image.clone();
        draw_result(canvas, out.result, model_scheme, out_scheme, draw);
        video.write(canvas);
      }
      const double el = std::chrono::duration<double>(Clock::now() - t0).count();
      progress.update(n.frames, progress_text(n.frames, total, el, out.result.faces.size()));
      if (o.max_frames > 0 && n.frames >= o.max_frames) break;
    }
  } catch (const std::exception& e) {
    failure = e.what();
  }
  engine.stop();
  if (interrupt_signal() != 0 || !failure.empty()) writer->mark_partial();
  writer->finish();
  writer.reset();
  if (partial) commit_partial(target);
  video.close();
  const double el = std::chrono::duration<double>(Clock::now() - t0).count();
  progress.finish();
  std::printf("%s: %lld frames in %.1f s (%.1f fps), a face in %lld, %zu face id(s), %lld detector runs\n",
              described.c_str(), static_cast<long long>(n.frames), el,
              static_cast<double>(n.frames) / std::max(el, 1e-9), static_cast<long long>(n.with_face),
              n.ids.size(), static_cast<long long>(n.detections));
  std::printf("landmarks (%s, %d points; %s) → %s%s%s\n", out_scheme.id.c_str(), out_scheme.num_points,
              tracker.backend().describe().c_str(), target.c_str(), o.overlay.empty() ? "" : "; overlay → ",
              o.overlay.c_str());
  return annotate_status(failure, engine.source().skipped(), n.frames, total);
}

// ---------------------------------------------------------------------------------------------- bench

struct BenchOpts {
  EngineOpts e;
  std::string truth, json;
  bool no_dlib = false;
  int64_t max_frames = 0;
};

struct Run {
  std::string name;
  double fps = 0, p50 = 0, p95 = 0;
  int64_t frames = 0;
  std::vector<FrameResult> results;  // raw and smoothed points per face
};

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto i = static_cast<size_t>(pos);
  const double f = pos - static_cast<double>(i);
  return i + 1 < v.size() ? v[i] * (1 - f) + v[i + 1] * f : v[i];
}

Run run_pipeline(const EngineOpts& e, const std::string& name, int64_t max_frames) {
  using Clock = std::chrono::steady_clock;
  Tracker tracker = make_tracker(e, false);
  Run run;
  run.name = name;
  std::vector<double> latency;
  Engine engine(open_source(e.input), tracker, 1);
  const auto t0 = Clock::now();
  EngineOutput out;
  while (engine.next(out)) {
    latency.push_back(out.latency_ms);
    run.results.push_back(std::move(out.result));
    if ((max_frames > 0 && static_cast<int64_t>(run.results.size()) >= max_frames) || interrupt_signal() != 0)
      break;
  }
  const double el = std::chrono::duration<double>(Clock::now() - t0).count();
  run.frames = static_cast<int64_t>(run.results.size());
  run.fps = run.frames / std::max(el, 1e-9);
  run.p50 = percentile(latency, 0.5);
  run.p95 = percentile(latency, 0.95);
  return run;
}

struct Stability {
  double jitter = 0, lag_ms = 0, error = 0;
  int pairs = 0;
  bool valid = false;
};

/// The predicted tracks matched to the true faces (box IoU ≥ 0.3, frame by frame), scored by
/// temporal_errors and pooled over faces (weighted by frame pairs).
Stability stability(const std::vector<std::vector<LandmarkRow>>& predicted,
                    const std::vector<LandmarkRow>& truth, double fps) {
  std::map<int, std::pair<Track, Track>> by_face;  // truth face → (predicted, truth)
  std::map<int, std::vector<double>> norms;
  const size_t T = predicted.size();
  for (const LandmarkRow& r : truth) {
    if (r.frame < 0 || static_cast<size_t>(r.frame) >= T) continue;
    auto& [pred, tru] = by_face[r.face];
    if (pred.empty()) {
      pred.assign(T, Points());
      tru.assign(T, Points());
      norms[r.face].assign(T, 0.0);
    }
    const auto t = static_cast<size_t>(r.frame);
    tru[t] = r.points;
    norms[r.face][t] = (r.points.row(36) - r.points.row(45)).norm();
    double best = 0.3;
    for (const LandmarkRow& p : predicted[t]) {
      const double v = iou(landmark_box(p.points), landmark_box(r.points));
      if (v > best && p.points.rows() == r.points.rows()) {
        best = v;
        pred[t] = p.points;
      }
    }
  }
  Stability s;
  double lag = 0;
  for (auto& [face, tracks] : by_face) {
    const TemporalErrors e = temporal_errors(tracks.first, tracks.second, norms[face]);
    if (e.pairs == 0) continue;
    s.jitter += e.jitter * e.pairs;
    s.error += e.error * e.pairs;
    lag += e.lag_frames * e.pairs;
    s.pairs += e.pairs;
  }
  if (s.pairs > 0) {
    s.jitter /= s.pairs;
    s.error /= s.pairs;
    s.lag_ms = lag / s.pairs / fps * 1000;
    s.valid = true;
  }
  return s;
}

struct Coverage {
  double recall = 0;         // eligible true faces found (landmark box IoU > 0.3 with a tracked face)
  int eligible = 0;          // true (frame, face) pairs whose face is at least min_face wide
  int false_tracks = 0;      // track ids with a frame on no true face
  double longest_false = 0;  // seconds, the longest run of such frames of one id
  double entry_median = 0,
         entry_max = 0;  // seconds from a face's first eligible frame to its first landmarks
  int never_found = 0;   // eligible faces never found
};

/// How many faces a run finds and how soon, and what it finds that is not a face (the wide-shot benchmark).
Coverage coverage(const std::vector<std::vector<LandmarkRow>>& predicted,
                  const std::vector<LandmarkRow>& truth, double min_face, double fps) {
  const size_t T = predicted.size();
  std::vector<std::vector<const LandmarkRow*>> true_at(T);
  for (const LandmarkRow& r : truth)
    if (r.frame >= 0 && static_cast<size_t>(r.frame) < T) true_at[static_cast<size_t>(r.frame)].push_back(&r);
  const auto matches = [](const LandmarkRow& a, const LandmarkRow& b) {
    return iou(landmark_box(a.points), landmark_box(b.points)) > 0.3;
  };
  Coverage c;
  int found = 0;
  std::map<int, int64_t> first_seen, first_found;
  std::map<int, int> false_run, false_longest;
  for (size_t t = 0; t < T; ++t) {
    for (const LandmarkRow* r : true_at[t]) {
      if (landmark_box(r->points).w < min_face) continue;
      ++c.eligible;
      first_seen.emplace(r->face, static_cast<int64_t>(t));
      const bool hit = std::any_of(predicted[t].begin(), predicted[t].end(),
                                   [&](const LandmarkRow& p) { return matches(p, *r); });
      found += hit ? 1 : 0;
      if (hit) first_found.emplace(r->face, static_cast<int64_t>(t));
    }
    for (const LandmarkRow& p : predicted[t]) {
      const bool on_face = std::any_of(true_at[t].begin(), true_at[t].end(),
                                       [&](const LandmarkRow* r) { return matches(p, *r); });
      int& run = false_run[p.face];
      run = on_face ? 0 : run + 1;
      false_longest[p.face] = std::max(false_longest[p.face], run);
    }
  }
  c.recall = c.eligible > 0 ? static_cast<double>(found) / c.eligible : 0;
  for (const auto& [id, longest] : false_longest)
    if (longest > 0) {
      ++c.false_tracks;
      c.longest_false = std::max(c.longest_false, longest / fps);
    }
  std::vector<double> entry;
  for (const auto& [face, t0] : first_seen) {
    const auto it = first_found.find(face);
    if (it == first_found.end()) {
      ++c.never_found;
      continue;
    }
    entry.push_back(static_cast<double>(it->second - t0) / fps);
  }
  if (!entry.empty()) {
    c.entry_median = percentile(entry, 0.5);
    c.entry_max = *std::max_element(entry.begin(), entry.end());
  }
  return c;
}

std::vector<std::vector<LandmarkRow>> rows_per_frame(const Run& run, bool raw) {
  std::vector<std::vector<LandmarkRow>> rows(run.results.size());
  for (size_t t = 0; t < run.results.size(); ++t)
    for (const FaceResult& f : run.results[t].faces) {
      LandmarkRow r;
      r.frame = static_cast<int64_t>(t);
      r.face = f.id;
      r.points = raw ? f.raw : f.points;
      rows[t].push_back(std::move(r));
    }
  return rows;
}

/// dlib's momentum_filter on every coordinate of each face id, its settings fitted by dlib's
/// find_optimal_momentum_filter on these raw tracks (what dlib's documentation suggests).
std::vector<std::vector<LandmarkRow>> dlib_filtered(const std::vector<std::vector<LandmarkRow>>& raw) {
  std::map<int, std::vector<std::pair<size_t, const LandmarkRow*>>> by_id;
  for (size_t t = 0; t < raw.size(); ++t)
    for (const LandmarkRow& r : raw[t]) by_id[r.face].emplace_back(t, &r);
  std::vector<std::vector<double>> sequences;
  for (const auto& [id, rows] : by_id) {
    if (rows.size() < 6) continue;
    for (Eigen::Index i = 0; i < rows.front().second->points.rows(); ++i)
      for (int c = 0; c < 2; ++c) {
        std::vector<double> seq;
        for (const auto& [t, r] : rows) seq.push_back(r->points(i, c));
        sequences.push_back(std::move(seq));
      }
  }
  auto out = raw;
  if (sequences.empty()) return out;
  const dlib::momentum_filter tuned = dlib::find_optimal_momentum_filter(sequences);
  for (const auto& [id, rows] : by_id) {
    const Eigen::Index n = rows.front().second->points.rows();
    std::vector<dlib::momentum_filter> filters(static_cast<size_t>(2 * n), tuned);
    for (const auto& [t, r] : rows)
      for (LandmarkRow& o : out[t])
        if (o.face == id)
          for (Eigen::Index i = 0; i < n; ++i)
            for (int c = 0; c < 2; ++c)
              o.points(i, c) = filters[static_cast<size_t>(2 * i + c)](r->points(i, c));
  }
  return out;
}

// The input's frame rate, after a line naming it, its size and the threads.
double describe_bench_input(const BenchOpts& o) {
  auto src = open_source(o.e.input);
  const double fps_in = src->fps();
  Frame f;
  const cv::Size size = src->read(f) ? f.image.size() : cv::Size();
  std::printf("bench: %s (%dx%d, %lld frames, %.0f fps), %d frame(s) in parallel x %d LibTorch thread(s)\n",
              o.e.input.c_str(), size.width, size.height, static_cast<long long>(src->frame_count()), fps_in,
              parallel_frames(o.e), torch::get_num_threads());
  return fps_in;
}

// Ours, then (unless --no-dlib) dlib's predictor on our tracking policy and the usual dlib loop.
std::vector<Run> bench_runs(const BenchOpts& o) {
  EngineOpts ours = o.e;
  ours.dlib = false;
  ours.scheme.clear();
  std::vector<Run> runs;
  runs.push_back(run_pipeline(ours, "ours", o.max_frames));
  if (o.no_dlib) return runs;
  EngineOpts d = o.e;
  d.dlib = true;
  d.scheme.clear();
  d.parallel = 1;  // dlib's predictor takes about a millisecond: frame by frame, its own tracking policy
  runs.push_back(run_pipeline(d, "dlib", o.max_frames));
  // The usual dlib loop: the HOG detector on every full frame, the predictor on its boxes.
  d.detect_every = 1;
  d.detect_width = 0;
  d.min_face = 0;
  d.detect_threshold = 0;
  runs.push_back(run_pipeline(d, "dlib-every-frame", o.max_frames));
  return runs;
}

// One row of the table (and of --json): speed, and against the truth stability and coverage.
struct BenchTable {
  const std::vector<LandmarkRow>& truth;
  double fps_in;
  int min_face;
  nlohmann::json rows = nlohmann::json::array();

  void row(const std::string& name, const Run& r, const std::vector<std::vector<LandmarkRow>>& tracks) {
    Stability s;
    Coverage c;
    if (!truth.empty()) {
      s = stability(tracks, truth, fps_in);
      c = coverage(tracks, truth, min_face, fps_in);
    }
    std::printf("%-32s %8.1f %8.1f %8.1f", name.c_str(), r.fps, r.p50, r.p95);
    if (s.valid)
      std::printf(" %10.3f %8.1f %8.2f", 100 * s.jitter, s.lag_ms, 100 * s.error);
    else
      std::printf(" %10s %8s %8s", "-", "-", "-");
    if (c.eligible > 0)
      std::printf(" %8.1f %6d %8.2f %8.2f %8.2f\n", 100 * c.recall, c.false_tracks, c.longest_false,
                  c.entry_median, c.entry_max);
    else
      std::printf("\n");
    nlohmann::json j = {
        {"pipeline", name}, {"fps", r.fps}, {"p50_ms", r.p50}, {"p95_ms", r.p95}, {"frames", r.frames}};
    if (s.valid) j.update({{"jitter", s.jitter}, {"lag_ms", s.lag_ms}, {"nme", s.error}});
    if (c.eligible > 0)
      j.update({{"recall", c.recall},
                {"false_tracks", c.false_tracks},
                {"longest_false_s", c.longest_false},
                {"entry_median_s", c.entry_median},
                {"entry_max_s", c.entry_max},
                {"never_found", c.never_found}});
    rows.push_back(j);
  }
};

void bench_rows(const BenchOpts& o, const std::vector<Run>& runs, BenchTable& t) {
  const auto ours_raw = rows_per_frame(runs[0], true), ours_smooth = rows_per_frame(runs[0], false);
  t.row(o.e.no_smooth ? "ours (LDDMM-Face)" : "ours (LDDMM-Face, One-Euro)", runs[0], ours_smooth);
  if (!o.e.no_smooth) t.row("ours (LDDMM-Face, raw)", runs[0], ours_raw);
  if (runs.size() < 3) return;
  const auto dlib_raw = rows_per_frame(runs[1], true);
  t.row("dlib (same tracking policy)", runs[1], dlib_raw);
  if (!t.truth.empty()) t.row("dlib + momentum_filter", runs[1], dlib_filtered(dlib_raw));
  const auto every_raw = rows_per_frame(runs[2], true);
  t.row("dlib, HOG on every frame", runs[2], every_raw);
  if (!t.truth.empty()) t.row("dlib, HOG every frame + filter", runs[2], dlib_filtered(every_raw));
}

int run_bench(const BenchOpts& o) {
  std::vector<fs::path> inputs = run_inputs(o.e);
  inputs.emplace_back(o.truth);
  check_outputs(inputs, {o.json});
  set_threads(o.e);
  std::vector<LandmarkRow> truth;
  if (!o.truth.empty()) truth = read_landmarks(o.truth);
  const double fps_in = describe_bench_input(o);
  const std::vector<Run> runs = bench_runs(o);
  std::printf("\n%-32s %8s %8s %8s %10s %8s %8s%s\n", "pipeline", "fps", "p50 ms", "p95 ms", "jitter %",
              "lag ms", "NME %", truth.empty() ? "" : " recall %  false  false s  entry s    max s");
  BenchTable table{truth, fps_in, std::max(1, o.e.min_face)};
  bench_rows(o, runs, table);
  if (!truth.empty())
    std::printf(
        "jitter: error of frame-to-frame landmark motion against the true motion, %% of the inter-ocular "
        "distance; lag: best delay against the truth; NME: mean error, %% inter-ocular; recall: true faces "
        "of at least %d px found; false: track ids on no true face, the longest such run; entry: from a "
        "face's first frame to its first landmarks (median, max)\n",
        std::max(1, o.e.min_face));
  std::printf("fps: end to end (decode, detect, align, smooth); latency: frame decoded → landmarks ready\n");
  if (!o.json.empty()) {
    std::ofstream f(o.json);
    if (!f) throw std::runtime_error(o.json + ": cannot write");
    f << table.rows.dump(2) << '\n';
  }
  return interrupt_signal() != 0 ? interrupted_status() : 0;
}

}  // namespace

void add_annotate_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<AnnotateOpts>();
  CLI::App* cmd = app.add_subcommand(
      "annotate", "Track faces in a video, camera, image or folder; write landmarks and an overlay video");
  add_engine_options(cmd, o->e);
  cmd->add_option("-o,--out", o->out, "Landmarks file (.csv or .json), or a folder with --format pts")
      ->required();
  cmd->add_option("-f,--format", o->format, "csv, json or pts (default: from the --out extension)")
      ->check(CLI::IsMember({"csv", "json", "pts"}));
  cmd->add_option("--overlay", o->overlay,
                  "Also write the frames with curves, points, momenta and grid (.mp4/.avi)");
  cmd->add_option("--grid", o->e.grid, "Overlay grid cells (0: no grid)")->check(CLI::Range(0, 400));
  cmd->add_flag("!--no-momenta", o->momenta, "Overlay without momentum arrows");
  cmd->add_option("--max-frames", o->max_frames, "Stop after this many frames")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000000000}));
  cmd->add_flag("-q,--quiet", o->quiet, "No progress line");
  cmd->callback([o, &action] {
    o->grid = o->e.grid > 0;
    action = [o] { return run_annotate(*o); };
  });
}

void add_bench_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<BenchOpts>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Frames per second, latency and (with --truth) jitter and lag: ours against dlib, same run");
  add_engine_options(cmd, o->e);
  cmd->add_option("--truth", o->truth, "True landmark tracks (CSV from sample-clip) for jitter, lag and NME")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--no-dlib", o->no_dlib, "Only our pipeline");
  cmd->add_option("--max-frames", o->max_frames, "Stop after this many frames")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000000000}));
  cmd->add_option("--json", o->json, "Also write the rows as JSON");
  cmd->callback([o, &action] { action = [o] { return run_bench(*o); }; });
}

void add_sample_clip_command(CLI::App& app, Action& action) {
  auto opts = std::make_shared<ClipOptions>();
  auto wide = std::make_shared<WideClipOptions>();
  auto wide_size = std::make_shared<std::string>();
  auto video = std::make_shared<std::string>("sample.avi");
  auto truth = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "sample-clip", "Make a test video with true landmark tracks: the sample clip, or a wide shot (--wide)");
  cmd->add_option("-o,--out", *video, "Video file (.avi Motion-JPEG or .mp4)");
  cmd->add_option("--truth", *truth, "True landmarks CSV (default: <out>.truth.csv)");
  cmd->add_option("--frames", opts->frames, "Frames")->check(CLI::Range(1, 100000));
  cmd->add_option("--size", opts->width, "Width (height is 3/4 of it)")->check(CLI::Range(64, 4096));
  cmd->add_option("--wide", *wide_size, "A wide shot of WxH pixels (e.g. 1280x720) with faces of 40-200 px");
  cmd->add_option("--faces", wide->sizes, "Wide shot: the faces' widths in pixels")
      ->check(CLI::Range(8, 2000));
  cmd->add_option("--val", wide->data_dir, "Wide shot: also paste the faces of this 300-W folder's val.txt")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--seed", wide->seed, "Wide shot: where the faces are and which ones");
  cmd->callback([=, &action] {
    action = [=] {
      const fs::path t = truth->empty() ? fs::path(*video).replace_extension(".truth.csv") : fs::path(*truth);
      check_outputs({wide->data_dir}, {*video, t});
      ClipInfo info;
      int w = opts->width, h = opts->width * 3 / 4;
      if (!wide_size->empty()) {
        if (std::sscanf(wide_size->c_str(), "%dx%d", &w, &h) != 2 || w < 64 || h < 64 || w > 8192 || h > 8192)
          throw std::runtime_error("--wide: give the frame size as WxH, 64-8192 pixels (e.g. 1280x720)");
        wide->width = w;
        wide->height = h;
        wide->frames = cmd->count("--frames") > 0 ? opts->frames : wide->frames;
        info = generate_wide_clip(*wide, *video, t);
      } else {
        opts->height = h;
        info = generate_clip(*opts, *video, t);
      }
      std::printf("%s: %d frames %dx%d, %d faces; true landmarks (%d rows) → %s\n", video->c_str(),
                  info.frames, w, h, info.faces, info.truth_rows, t.c_str());
      return 0;
    };
  });
}

}  // namespace lddmm::app
