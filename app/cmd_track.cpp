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
#include "engine_options.hpp"
#include "interrupt.hpp"
#include "lddmm/flow/metrics.hpp"
#include "lddmm/flow/temporal.hpp"
#include "lddmm/io/progress.hpp"
#include "lddmm/io/safe_output.hpp"
#include "lddmm/render/render.hpp"
#include "lddmm/track/clip.hpp"
#include "lddmm/track/engine.hpp"
#include "lddmm/track/landmark_io.hpp"
#include "lddmm/track/tracker.hpp"

namespace lddmm::app {
namespace fs = std::filesystem;
namespace {

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
  run.p50 = quantile(latency, 0.5);
  run.p95 = quantile(latency, 0.95);
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
    c.entry_median = quantile(entry, 0.5);
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
