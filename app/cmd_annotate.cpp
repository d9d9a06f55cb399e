// annotate: landmarks (CSV in OpenFace's layout, JSON Lines, JSON, .pts), head pose and an overlay video for
// one input, or for a corpus of videos (a folder or a list) with a manifest, resumable and shardable over a
// Slurm job array; merge: one manifest from a sharded run's.
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "commands.hpp"
#include "engine_options.hpp"
#include "interrupt.hpp"
#include "lddmm/face/head_pose.hpp"
#include "lddmm/io/progress.hpp"
#include "lddmm/io/safe_output.hpp"
#include "lddmm/render/render.hpp"
#include "lddmm/track/corpus.hpp"
#include "lddmm/track/engine.hpp"
#include "lddmm/track/file_hash.hpp"
#include "lddmm/track/landmark_io.hpp"

namespace lddmm::app {
namespace fs = std::filesystem;
namespace {
using Clock = std::chrono::steady_clock;

struct AnnotateOpts {
  EngineOpts e;
  std::vector<std::string> out, formats;
  std::string overlay, shard;
  bool grid = true, momenta = true, quiet = false, pose = true, save_momenta = false;
  double fx = 0, fy = 0, cx = -1, cy = -1;
  int64_t max_frames = 0;
};

struct Target {
  LandmarkFormat format;
  fs::path path;
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// One input: each -o is a file named by its extension (.csv, .jsonl, .json), or with one -o, --format.
std::vector<Target> file_targets(const AnnotateOpts& o) {
  if (o.formats.size() > 1 || (o.formats.size() == 1 && o.out.size() > 1))
    throw std::runtime_error("--format names the format of a single -o (else each -o's extension does)");
  std::vector<Target> targets;
  for (const std::string& out : o.out) {
    const auto by_name = landmark_format_of(out);
    if (!o.formats.empty()) {
      targets.push_back({parse_landmark_format(o.formats[0]), out});
    } else if (by_name) {
      targets.push_back({*by_name, out});
    } else {
      throw std::runtime_error(out + ": give a .csv, .jsonl or .json name, or --format csv|jsonl|json|pts");
    }
  }
  return targets;
}

// A corpus video's outputs: its relative path under the output folder, one file per format.
std::vector<Target> corpus_targets(const fs::path& dir, const CorpusVideo& v,
                                   const std::vector<std::string>& formats) {
  std::vector<Target> targets;
  for (const std::string& f : formats) {
    fs::path p = dir / v.relative;
    targets.push_back({parse_landmark_format(f), p.replace_extension("." + f)});
  }
  return targets;
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

// ------------------------------------------------------------------------------------ what a file says

const std::string& model_hash(const std::string& file) {
  static std::map<std::string, std::string> known;
  auto it = known.find(file);
  if (it == known.end()) it = known.emplace(file, sha256_file(file)).first;
  return it->second;
}

nlohmann::ordered_json scheme_record(const Scheme& s) {
  nlohmann::ordered_json curves = nlohmann::ordered_json::array();
  std::vector<std::string> names(static_cast<size_t>(s.num_points));
  for (const Curve& c : s.curves) {
    curves.push_back({{"name", c.name}, {"points", c.points}, {"closed", c.closed}});
    for (size_t k = 0; k < c.points.size(); ++k)
      names[static_cast<size_t>(c.points[k])] = c.name + "_" + std::to_string(k);
  }
  return {
      {"id", s.id}, {"name", s.name}, {"points", s.num_points}, {"point_names", names}, {"curves", curves}};
}

nlohmann::ordered_json camera_record(const AnnotateOpts& o) {
  if (o.fx > 0) return {{"fx", o.fx}, {"fy", o.fy > 0 ? o.fy : o.fx}, {"cx", o.cx}, {"cy", o.cy}};
  return {
      {"from", "each frame's size: f = 500 px at 640x480, scaled; centre of the frame (OpenFace's guess)"}};
}

std::string jsonl_header(const AnnotateOpts& o, const Tracker& tracker, const FrameSource& source,
                         const std::string& input) {
  nlohmann::ordered_json models = nlohmann::ordered_json::array();
  for (const std::string& m : model_paths(o.e)) models.push_back({{"file", m}, {"sha256", model_hash(m)}});
  const cv::Size size = source.frame_size();
  nlohmann::ordered_json in = {{"path", input}, {"fps", source.fps()}, {"frames", source.frame_count()}};
  if (!size.empty()) in.update({{"width", size.width}, {"height", size.height}});
  nlohmann::ordered_json h = {
      {"program", {{"name", "lddmm-face"}, {"version", LDDMM_VERSION}}},
      {"models", models},
      {"aligner", tracker.backend().describe()},
      {"scheme", scheme_record(tracker.backend().output_scheme())},
      {"input", in},
      {"coordinates", "image pixels, the numbers of the 300-W annotations (see docs/formats.md)"},
      {"pose", o.pose ? nlohmann::ordered_json{{"camera", camera_record(o)}, {"units", "mm, radians"}}
                      : nlohmann::ordered_json(nullptr)},
      {"options", {{"min_face", o.e.min_face}, {"smooth", !o.e.no_smooth}, {"flip", o.e.flip}}}};
  return h.dump();
}

// ------------------------------------------------------------------------------------ one input

struct AnnotateCounts {
  int64_t frames = 0, with_face = 0, detections = 0;
  std::map<int, int64_t> ids;
};

struct VideoRun {
  AnnotateCounts n;
  std::string failure, described;
  std::vector<std::string> skipped;
  int64_t total = -1;
  double seconds = 0;
};

// Every landmark file of a run, written under partial names; committed (renamed) when asked.
class Outputs {
 public:
  Outputs(const std::vector<Target>& targets, const LandmarkHeader& header) : targets_(targets) {
    for (const Target& t : targets)
      writers_.push_back(make_landmark_writer(t.format, partial(t) ? partial_path(t.path) : t.path, header));
  }
  void write(const std::vector<LandmarkRow>& rows, const FrameResult& r, const std::string& image) {
    for (auto& w : writers_) {
      for (const LandmarkRow& row : rows) w->write(row);
      w->end_frame(r.index, r.time, image);
    }
  }
  // Completes every file and renames the complete ones; `commit`: an incomplete JSON or JSON Lines file too.
  void finish(bool complete, bool commit) {
    for (auto& w : writers_) {
      if (!complete) w->mark_partial();
      w->finish();
    }
    writers_.clear();
    // An incomplete CSV has nothing inside that says so: it keeps its partial name (JSON and JSON Lines
    // end with "complete": false).
    for (const Target& t : targets_)
      if (partial(t) && (complete || (commit && t.format != LandmarkFormat::Csv))) commit_partial(t.path);
  }

 private:
  static bool partial(const Target& t) { return t.format != LandmarkFormat::Pts; }  // .pts: file by file
  std::vector<Target> targets_;
  std::vector<std::unique_ptr<LandmarkWriter>> writers_;
};

RowExtras row_extras(const AnnotateOpts& o, const Tracker& tracker) {
  RowExtras x;
  x.momenta = o.save_momenta;
  x.pose_from_raw = tracker.backend().output_scheme().id != "300w68";  // then the model's 68 points
  return x;
}

std::optional<HeadPoseEstimator> pose_estimator(const AnnotateOpts& o, const Tracker& tracker,
                                                cv::Size size) {
  const bool has68 =
      tracker.backend().output_scheme().id == "300w68" || tracker.backend().scheme().id == "300w68";
  if (!o.pose || !has68) return std::nullopt;
  Camera cam = Camera::for_frame(size.width, size.height);
  if (o.fx > 0) cam = {o.fx, o.fy > 0 ? o.fy : o.fx, o.cx >= 0 ? o.cx : cam.cx, o.cy >= 0 ? o.cy : cam.cy};
  return HeadPoseEstimator(mean_face_3d(), cam);
}

std::string progress_text(int64_t frames, int64_t total, double seconds, size_t faces) {
  const double fps = static_cast<double>(frames) / std::max(seconds, 1e-9);
  const std::string eta = total > 0 ? clock_text(static_cast<double>(total - frames) / std::max(fps, 1e-9))
                                    : std::string("--:--");
  char text[96];
  std::snprintf(text, sizeof text, "frames  %.1f fps  ETA %s  faces %zu", fps, eta.c_str(), faces);
  return text;
}

struct FrameSink {
  Outputs& files;
  OverlayVideo& video;
  const AnnotateOpts& o;
  const Tracker& tracker;
  RowExtras extras;
  std::optional<HeadPoseEstimator> pose;
  cv::Size pose_size;  // the frame size the estimator's camera was made for

  void take(const EngineOutput& out, AnnotateCounts& n) {
    if (out.frame.image.size() != pose_size) {  // the first frame, or a photo of another size
      pose_size = out.frame.image.size();
      pose = pose_estimator(o, tracker, pose_size);
    }
    extras.pose = pose ? &*pose : nullptr;
    const std::vector<LandmarkRow> rows = rows_of(out.result, out.frame.name, extras);
    files.write(rows, out.result, out.frame.name);
    for (const LandmarkRow& r : rows) ++n.ids[r.face];
    ++n.frames;
    n.with_face += out.result.faces.empty() ? 0 : 1;
    n.detections += out.result.detector_ran ? 1 : 0;
    if (o.overlay.empty()) return;
    cv::Mat canvas = out.frame.image.clone();
    SceneOptions draw;
    draw.grid = o.grid;
    draw.momenta = o.momenta;
    draw.pose_axes = o.pose;
    draw_result(canvas, out.result, tracker.backend().scheme(), tracker.backend().output_scheme(), draw);
    video.write(canvas);
  }
};

// Tracks one input into `targets` (and the overlay). `commit_incomplete`: an interrupted or failed run's
// files take their final names too (one input: they say they are partial inside; a corpus keeps them
// under their partial names, so a re-run does them again).
VideoRun annotate_input(const AnnotateOpts& o, Tracker& tracker, const std::string& input,
                        const std::vector<Target>& targets, const std::string& overlay,
                        bool commit_incomplete, const std::string& prefix, bool quiet) {
  VideoRun run;
  auto source = open_source(input);
  run.total = source->frame_count();
  Progress progress(stderr, run.total, quiet);
  run.described = source->describe();
  const Scheme& out_scheme = tracker.backend().output_scheme();
  Outputs files(targets, {out_scheme.id, out_scheme.num_points, run.described, source->images(),
                          jsonl_header(o, tracker, *source, input)});
  OverlayVideo video(overlay, source->fps());
  FrameSink sink{files, video, o, tracker, row_extras(o, tracker), std::nullopt, cv::Size()};
  tracker.reset(true);
  Engine engine(std::move(source), tracker);
  const auto t0 = Clock::now();
  try {
    EngineOutput out;
    while (interrupt_signal() == 0 && engine.next(out)) {
      sink.take(out, run.n);
      progress.update(run.n.frames, prefix + progress_text(run.n.frames, run.total, seconds_since(t0),
                                                           out.result.faces.size()));
      if (o.max_frames > 0 && run.n.frames >= o.max_frames) break;
    }
  } catch (const std::exception& e) {
    run.failure = e.what();
  }
  engine.stop();
  progress.finish();
  const bool complete = interrupt_signal() == 0 && run.failure.empty();
  files.finish(complete, complete || commit_incomplete);
  video.close();
  run.skipped = engine.source().skipped();
  run.seconds = seconds_since(t0);
  return run;
}

// The run's end: the summary, the items skipped, and the exit status (interrupted: 128 + the signal).
int annotate_status(const VideoRun& run) {
  for (const std::string& s : run.skipped) std::fprintf(stderr, "lddmm-face: skipped %s\n", s.c_str());
  if (!run.failure.empty()) throw std::runtime_error(run.failure + " (results up to then are saved)");
  if (interrupt_signal() != 0) {
    std::fprintf(stderr, "lddmm-face: interrupted; results up to frame %lld are saved\n",
                 static_cast<long long>(run.n.frames));
    return interrupted_status();
  }
  if (!run.skipped.empty())
    throw std::runtime_error(std::to_string(run.skipped.size()) + " of " + std::to_string(run.total) +
                             " images could not be read (the others are saved)");
  return 0;
}

int run_single(const AnnotateOpts& o) {
  std::vector<fs::path> outs(o.out.begin(), o.out.end());
  outs.emplace_back(o.overlay);
  check_outputs(run_inputs(o.e), outs);
  const std::vector<Target> targets = file_targets(o);
  if (!o.overlay.empty()) overlay_fourcc(o.overlay);
  set_threads(o.e);
  Tracker tracker = make_tracker(o.e, (!o.overlay.empty() || o.save_momenta) && !o.e.dlib);
  const VideoRun run = annotate_input(o, tracker, o.e.input, targets, o.overlay, true, "", o.quiet);
  const auto& n = run.n;
  std::printf("%s: %lld frames in %.1f s (%.1f fps), a face in %lld, %zu face id(s), %lld detector runs\n",
              run.described.c_str(), static_cast<long long>(n.frames), run.seconds,
              static_cast<double>(n.frames) / std::max(run.seconds, 1e-9),
              static_cast<long long>(n.with_face), n.ids.size(), static_cast<long long>(n.detections));
  std::string written;
  for (const Target& t : targets) written += (written.empty() ? "" : ", ") + t.path.string();
  const Scheme& s = tracker.backend().output_scheme();
  std::printf("landmarks (%s, %d points; %s) → %s%s%s\n", s.id.c_str(), s.num_points,
              tracker.backend().describe().c_str(), written.c_str(), o.overlay.empty() ? "" : "; overlay → ",
              o.overlay.c_str());
  return annotate_status(run);
}

// ------------------------------------------------------------------------------------ a corpus

struct Corpus {
  std::vector<CorpusVideo> all, mine;
  std::optional<Shard> shard;
  fs::path dir, manifest;
  std::vector<std::string> formats;
};

Corpus plan_corpus(const AnnotateOpts& o) {
  if (o.out.size() != 1) throw std::runtime_error("a corpus takes one -o: the output folder");
  if (!o.overlay.empty()) throw std::runtime_error("--overlay is for one input, not a corpus");
  Corpus c;
  c.dir = o.out[0];
  c.formats = o.formats.empty() ? std::vector<std::string>{"csv", "jsonl"} : o.formats;
  for (const std::string& f : c.formats)
    if (f == "pts") throw std::runtime_error("a corpus is written as csv, jsonl or json (not pts)");
  c.all = list_corpus(o.e.input, c.dir);
  c.shard = o.shard.empty() ? slurm_shard() : std::optional<Shard>(parse_shard(o.shard));
  c.mine = c.shard ? shard_of(c.all, *c.shard) : c.all;
  std::error_code ec;
  fs::create_directories(c.dir, ec);
  if (!fs::is_directory(c.dir))
    throw std::runtime_error(c.dir.string() + ": cannot create the output folder");
  c.manifest = c.dir / manifest_name(c.shard);
  write_manifest(c.manifest, read_manifest(c.manifest));  // fails now, not after a video, if not writable
  return c;
}

bool all_exist(const std::vector<Target>& targets) {
  std::error_code ec;
  return std::all_of(targets.begin(), targets.end(),
                     [&](const Target& t) { return fs::is_regular_file(t.path, ec); });
}

// A video whose files are complete from an earlier run: its row from then, or one read back from its file.
ManifestRow earlier_row(const std::vector<ManifestRow>& rows, const std::string& video, const Target& first) {
  for (const ManifestRow& r : rows)
    if (r.video == video && r.status == "done") return r;
  ManifestRow r{video, "done", 0, 0, 0, ""};
  std::map<int, int> ids;
  for (const LandmarkRow& l : read_landmarks(first.path)) {
    r.frames = std::max(r.frames, l.frame + 1);
    ids[l.face] = 1;
  }
  r.faces = static_cast<int>(ids.size());
  return r;
}

ManifestRow annotate_video(const AnnotateOpts& o, Tracker& tracker, const CorpusVideo& v,
                           const std::vector<Target>& targets, const std::string& prefix) {
  ManifestRow row{v.relative.generic_string(), "failed", 0, 0, 0, ""};
  try {
    std::vector<fs::path> outs;
    for (const Target& t : targets) outs.push_back(t.path);
    check_outputs({v.path}, outs);
    fs::create_directories(targets.front().path.parent_path());
    // Frame by frame only on a terminal; a log gets a line per video.
    const VideoRun run = annotate_input(o, tracker, v.path.string(), targets, "", false, prefix,
                                        o.quiet || !is_terminal(stderr));
    row = {row.video, "done", run.n.frames, static_cast<int>(run.n.ids.size()), run.seconds, run.failure};
    if (!run.failure.empty()) row.status = "failed";
    if (interrupt_signal() != 0) row.status = "interrupted";
  } catch (const std::exception& e) {
    row.error = e.what();
  }
  return row;
}

// "video 3/120 (corpus ETA 01:20:00) name: ": the videos done so far give the pace.
std::string corpus_prefix(size_t k, size_t n, const std::string& name, double elapsed, double done) {
  const double eta = done > 0 ? elapsed / done * (static_cast<double>(n) - done) : -1;
  return "video " + std::to_string(k) + "/" + std::to_string(n) + " (corpus ETA " + clock_text(eta) + ") " +
         name + ": ";
}

void report_video(const std::string& prefix, const ManifestRow& r) {
  std::fprintf(stderr, "%s%s, %lld frames in %.1f s (%.1f fps)%s%s\n", prefix.c_str(), r.status.c_str(),
               static_cast<long long>(r.frames), r.seconds,
               static_cast<double>(r.frames) / std::max(r.seconds, 1e-9), r.error.empty() ? "" : ": ",
               r.error.c_str());
}

int corpus_summary(const Corpus& c, const std::vector<ManifestRow>& rows, size_t earlier) {
  std::map<std::string, std::string> status;  // this shard's videos: the rows also keep earlier runs' others
  for (const ManifestRow& r : rows) status[r.video] = r.status;
  std::map<std::string, int> by;
  for (const CorpusVideo& v : c.mine) ++by[status[v.relative.generic_string()]];
  std::printf("%zu videos%s: %d done (%zu before this run), %d failed, %d interrupted → %s\n", c.mine.size(),
              c.shard ? (" (shard " + std::to_string(c.shard->index) + "/" + std::to_string(c.shard->count) +
                         " of " + std::to_string(c.all.size()) + ")")
                            .c_str()
                      : "",
              by["done"], earlier, by["failed"], by["interrupted"], c.manifest.string().c_str());
  if (interrupt_signal() != 0) return interrupted_status();
  if (by["failed"] > 0)
    throw std::runtime_error(std::to_string(by["failed"]) + " of " + std::to_string(c.mine.size()) +
                             " videos failed (see the manifest)");
  return 0;
}

int run_corpus(const AnnotateOpts& o) {
  const Corpus c = plan_corpus(o);
  std::vector<ManifestRow> rows = read_manifest(c.manifest);
  set_threads(o.e);
  Tracker tracker = make_tracker(o.e, o.save_momenta && !o.e.dlib);
  const auto t0 = Clock::now();
  size_t earlier = 0;
  for (size_t k = 0; k < c.mine.size() && interrupt_signal() == 0; ++k) {
    const CorpusVideo& v = c.mine[k];
    const std::vector<Target> targets = corpus_targets(c.dir, v, c.formats);
    if (all_exist(targets)) {
      set_row(rows, earlier_row(rows, v.relative.generic_string(), targets.front()));
      ++earlier;
    } else {
      const std::string prefix = corpus_prefix(k + 1, c.mine.size(), v.relative.string(), seconds_since(t0),
                                               static_cast<double>(k - earlier));
      const ManifestRow row = annotate_video(o, tracker, v, targets, prefix);
      if (!o.quiet) report_video(prefix, row);
      set_row(rows, row);
    }
    write_manifest(c.manifest, rows);
  }
  return corpus_summary(c, rows, earlier);
}

int run_annotate(const AnnotateOpts& o) {
  if (is_corpus(o.e.input)) return run_corpus(o);
  return run_single(o);
}

int run_merge(const std::string& corpus, const std::string& dir) {
  const std::vector<CorpusVideo> videos = list_corpus(corpus, dir);
  const std::vector<ManifestRow> rows = merge_manifests(videos, dir);
  write_manifest(fs::path(dir) / "manifest.csv", rows);
  std::map<std::string, int> by;
  for (const ManifestRow& r : rows) ++by[r.status];
  std::printf("%zu videos: %d done, %d failed, %d interrupted, %d missing → %s\n", rows.size(), by["done"],
              by["failed"], by["interrupted"], by["missing"], (fs::path(dir) / "manifest.csv").c_str());
  return by["done"] == static_cast<int>(rows.size()) ? 0 : 1;
}

}  // namespace

void add_annotate_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<AnnotateOpts>();
  CLI::App* cmd = app.add_subcommand(
      "annotate",
      "Track faces in a video, camera, image, folder or a corpus of videos; write landmarks and pose");
  add_engine_options(cmd, o->e);
  cmd->add_option(
         "-o,--out", o->out,
         "Landmarks file (.csv, .jsonl, .json; repeat for several), a folder with --format pts, or a "
         "corpus's output folder")
      ->required();
  cmd->add_option("-f,--format", o->formats,
                  "csv, jsonl, json or pts (default: from -o; a corpus: csv,jsonl)")
      ->delimiter(',')
      ->check(CLI::IsMember({"csv", "jsonl", "json", "pts"}));
  cmd->add_option("--overlay", o->overlay,
                  "Also write the frames with curves, points, momenta and grid (.mp4/.avi)");
  cmd->add_option("--grid", o->e.grid, "Overlay grid cells (0: no grid)")->check(CLI::Range(0, 400));
  cmd->add_flag("!--no-momenta", o->momenta, "Overlay without momentum arrows");
  cmd->add_flag("--save-momenta", o->save_momenta, "JSON Lines: each face's flow start points and momenta");
  cmd->add_flag("!--no-pose", o->pose, "No head pose (pose_* columns empty)");
  cmd->add_option("--fx", o->fx,
                  "Head pose: the camera's focal length, pixels (default: from the frame size)")
      ->check(CLI::Range(1.0, 1e6));
  cmd->add_option("--fy", o->fy, "Head pose: vertical focal length (default: --fx)")
      ->check(CLI::Range(1.0, 1e6));
  cmd->add_option("--cx", o->cx, "Head pose: principal point x (default: the frame's centre)")
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--cy", o->cy, "Head pose: principal point y (default: the frame's centre)")
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--shard", o->shard, "A corpus: do part K of N (K/N; default: from a Slurm job array)");
  cmd->add_option("--max-frames", o->max_frames, "Stop after this many frames")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000000000}));
  cmd->add_flag("-q,--quiet", o->quiet, "No progress line");
  cmd->callback([o, &action] {
    o->grid = o->e.grid > 0;
    action = [o] { return run_annotate(*o); };
  });
}

void add_merge_command(CLI::App& app, Action& action) {
  auto corpus = std::make_shared<std::string>();
  auto dir = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("merge", "One manifest.csv from a sharded corpus run's manifests");
  cmd->add_option("corpus", *corpus, "The corpus: a folder of videos or a list file")->required();
  cmd->add_option("-o,--out", *dir, "The run's output folder")->required()->check(CLI::ExistingDirectory);
  cmd->callback([corpus, dir, &action] { action = [corpus, dir] { return run_merge(*corpus, *dir); }; });
}

}  // namespace lddmm::app
