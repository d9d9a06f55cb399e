#include "engine_options.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "commands.hpp"

namespace lddmm::app {
namespace {

int cores(int threads) {
  return threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

void add_engine_options(CLI::App* cmd, EngineOpts& o, bool with_input) {
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
  cmd->add_option("--check-every", o.check_every,
                  "Frames between mirror checks where the model has no confidence head (0: no checks)")
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

// What a run reads: the input (every file of an input folder) and the model files.
std::vector<std::filesystem::path> run_inputs(const EngineOpts& e) {
  std::vector<std::filesystem::path> in{e.input};
  std::error_code ec;
  if (std::filesystem::is_directory(e.input, ec))
    for (const auto& entry : std::filesystem::directory_iterator(e.input, ec)) in.push_back(entry.path());
  for (const std::string& m : e.models) in.push_back(m);
  return in;
}

/// Frames aligned in parallel (files) and LibTorch threads per frame: on few cores small convolutions
/// scale badly across threads, so whole frames go to separate threads instead.
int parallel_frames(const EngineOpts& o) {
  return o.parallel > 0 ? o.parallel : std::min(2, cores(o.threads));
}

void set_threads(const EngineOpts& o) {
  torch::set_num_threads(std::max(1, cores(o.threads) / parallel_frames(o)));
}

std::vector<std::string> model_paths(const EngineOpts& o) {
  if (o.dlib) return {};
  if (o.accurate) return accurate_model_paths();
  return o.models.empty() ? std::vector<std::string>{default_model_path()} : o.models;
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
    backend = make_model_backend(model_paths(o), bo);
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

}  // namespace lddmm::app
