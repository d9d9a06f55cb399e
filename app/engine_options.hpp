// The options every command that runs the tracker shares (input, model, detector, smoothing, threads,
// device), and the tracker they make.
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "lddmm/flow/temporal.hpp"
#include "lddmm/track/tracker.hpp"

namespace lddmm::app {

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

void add_engine_options(CLI::App* cmd, EngineOpts& o, bool with_input = true);
/// Frames aligned at once on separate threads (files).
int parallel_frames(const EngineOpts& o);
/// What a run reads: the input (every file of an input folder) and the model files.
std::vector<std::filesystem::path> run_inputs(const EngineOpts& e);
/// Sets LibTorch's threads for the frames aligned in parallel.
void set_threads(const EngineOpts& o);
Tracker make_tracker(const EngineOpts& o, bool flow);
/// The model files make_tracker loads (none for --dlib).
std::vector<std::string> model_paths(const EngineOpts& o);
/// mm:ss, or --:-- when unknown.
std::string clock_text(double seconds);

}  // namespace lddmm::app
