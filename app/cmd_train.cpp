// `train` and `eval`: the aligner's trainer and evaluator.
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include "commands.hpp"
#include "lddmm/face/faces.hpp"
#include "lddmm/flow/metrics.hpp"
#include "lddmm/io/progress.hpp"
#include "lddmm/io/pts_io.hpp"
#include "lddmm/io/safe_output.hpp"
#include "lddmm/io/scheme_files.hpp"
#include "lddmm/net/device.hpp"
#include "lddmm/net/predict.hpp"
#include "lddmm/track/confidence_fit.hpp"
#include "lddmm/train/eval_report.hpp"
#include "lddmm/train/trainer.hpp"

namespace lddmm::app {
namespace {

namespace fs = std::filesystem;

// -d, else $LDDMM_DATA/300w: no default points outside what the user names.
fs::path data_folder(const std::string& given) {
  if (!given.empty()) return given;
  const char* env = std::getenv("LDDMM_DATA");
  if (env == nullptr || *env == '\0')
    throw std::runtime_error("no data folder: give -d DIR (a folder of 300-W style faces) or set LDDMM_DATA");
  return fs::path(env) / "300w";
}

fs::path in_data(const fs::path& data, const std::string& list) {
  return fs::exists(list) ? fs::path(list) : data / list;
}

void use_threads(int threads) {
  torch::set_num_threads(threads > 0 ? threads
                                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

// Saves a model (float16 unless `full`) and says where, in which precision and how large.
void write_model(Aligner& model, const std::string& out, bool full, const std::string& note = "") {
  save_model(model, out, !full);
  std::printf("wrote %s (%s, %.1f MB%s)\n", out.c_str(), full ? "float32" : "float16",
              static_cast<double>(fs::file_size(out)) / 1e6, note.c_str());
}

// The options of a command that reads a model and writes it changed: precision, threads, device.
void add_rewrite_options(CLI::App* cmd, bool& full, int& threads, std::string& device) {
  cmd->add_flag("--float32", full, "Keep float32 weights (default: float16)");
  cmd->add_option("--threads", threads, "Threads (default: all cores)")->check(CLI::Range(1, 256));
  add_device_option(cmd, device);
}

// The model such a command reads, on its device, once its output is known not to be its input.
Aligner open_model(const std::string& in, const std::string& out, int threads, const std::string& device) {
  check_outputs({in}, {out});
  use_threads(threads);
  Aligner model = load_model(in);
  model->to(parse_device(device));
  return model;
}

// The confidence samples of every face of a list (add_confidence_samples), the same crops every run.
ConfidenceSamples confidence_samples(Predictor& predictor, const FaceDataset& set, uint32_t seed) {
  ConfidenceSamples s;
  std::mt19937 rng(seed);
  for (size_t i = 0; i < set.size(); ++i) {
    add_confidence_samples(predictor, set.record(i).image, set.target_points(i), rng, s);
    if ((i + 1) % 200 == 0) std::fprintf(stderr, "\r%zu / %zu faces", i + 1, set.size());
  }
  std::fprintf(stderr, "\r");
  return s;
}

// How the head's estimates rank faces by error (Spearman, near crops) and tell them from crops that slid off
// the face or moved off it (ROC AUC: the probability that a near crop's estimate is below the other's).
void report_confidence(const ConfidenceHead& head, const ConfidenceSamples& s, const std::string& name) {
  const std::vector<double> est = estimate_errors(head, s);
  std::vector<double> near_est, near_err, sliding, off;
  for (size_t i = 0; i < est.size(); ++i) {
    if (s.kind[i] == CropKind::Near) {
      near_est.push_back(est[i]);
      near_err.push_back(s.error[i]);
    }
    if (s.kind[i] == CropKind::Sliding) sliding.push_back(est[i]);
    if (s.kind[i] == CropKind::Off) off.push_back(est[i]);
  }
  std::printf(
      "%s, %zu faces: Spearman rho (estimated, true NME) %.3f on near crops; ROC AUC near vs sliding "
      "%.3f, near vs off %.3f; estimated NME near crops median %.3f, 99 %% %.3f; off crops 1 %% %.3f, "
      "median %.3f\n",
      name.c_str(), near_err.size(), spearman(near_est, near_err), roc_auc(near_est, sliding),
      roc_auc(near_est, off), quantile(near_est, 0.5), quantile(near_est, 0.99), quantile(off, 0.01),
      quantile(off, 0.5));
}

}  // namespace

void add_fit_confidence_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("fit-confidence",
                                 "Fit a model's confidence head (its estimate of its own error, from its "
                                 "pooled features) and write the model with it");
  struct Opts {
    std::string model, out, data, list = "train.txt", check = "val.txt";
    double ridge = 1e-3;
    bool full = false;
    int threads = 0;
    std::string device = "auto";
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("-m,--model", o->model, "Model file to read")->required();
  cmd->add_option("-o,--out", o->out, "Model file to write")->required();
  cmd->add_option("-d,--data", o->data, "Data folder (default $LDDMM_DATA/300w)");
  cmd->add_option("-l,--list", o->list, "Annotated faces to fit on, relative to --data")
      ->capture_default_str();
  cmd->add_option("--check", o->check, "Annotated faces to report on (\"\": none)")->capture_default_str();
  cmd->add_option("--ridge", o->ridge, "Penalty on the standardised weights")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  add_rewrite_options(cmd, o->full, o->threads, o->device);
  cmd->callback([&action, o] {
    action = [o] {
      Aligner model = open_model(o->model, o->out, o->threads, o->device);
      model->eval();
      const fs::path data = data_folder(o->data);
      const int side = static_cast<int>(model->config().input_size * 1.25);
      const FaceDataset set = model_faces(model, data, o->list, side);
      if (set.size() == 0) throw std::runtime_error(o->list + ": no faces");
      Predictor predictor(model);
      const ConfidenceSamples fit = confidence_samples(predictor, set, 1);
      const ConfidenceHead head = fit_confidence_head(fit, o->ridge);
      report_confidence(head, fit, o->list + " (fitted on)");
      if (!o->check.empty())
        report_confidence(head, confidence_samples(predictor, model_faces(model, data, o->check, side), 2),
                          o->check);
      model->set_confidence(head);
      write_model(model, o->out, o->full);
      return 0;
    };
  });
}

void add_train_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("train", "Train an aligner from a configuration file on annotated faces");
  struct Opts {
    std::string config, data, list = "train.txt", val = "val.txt", out;
    std::string init;
    std::vector<std::string> teacher_files;
    bool resume = false;
    int epochs = 0, threads = 0;
    long long seed = -1;  // -1: the configuration's
    double minutes = 0;
    std::string device = "auto";
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("-c,--config", o->config, "Training configuration (JSON, see configs/)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("-d,--data", o->data, "Data folder (default $LDDMM_DATA/300w)");
  cmd->add_option("-l,--list", o->list, "Training list, relative to --data")->capture_default_str();
  cmd->add_option("--val", o->val, "Validation list, relative to --data")->capture_default_str();
  cmd->add_option("-o,--out", o->out, "Run folder: checkpoints, best.pt, log.csv")->required();
  cmd->add_flag("--resume", o->resume, "Continue from the run folder's last checkpoint");
  cmd->add_option(
         "--init", o->init,
         "Start from this model's weights (same configuration and scheme; the input size may differ)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--teacher", o->teacher_files,
                  "Distil from this model: its landmarks on each training crop are blended into the targets "
                  "(train.teacher_weight, default 0.5; overrides train.teacher); given more than once, from "
                  "the ensemble, their landmarks averaged")
      ->check(CLI::ExistingFile);
  cmd->add_option("--epochs", o->epochs, "Override the configuration's epochs")->check(CLI::Range(1, 100000));
  cmd->add_option("--seed", o->seed,
                  "Override the configuration's seed (train.seed): a new round from the same configuration")
      ->check(CLI::Range(0LL, 4294967295LL));
  cmd->add_option("--threads", o->threads, "Override the number of threads")->check(CLI::Range(1, 256));
  add_device_option(cmd, o->device);
  cmd->add_option(
         "--minutes", o->minutes,
         "Time budget: after the second epoch, cut the epochs (and fit the schedule) to end in about "
         "this many minutes (train.time_budget_minutes)")
      ->check(CLI::Range(0.1, 100000.0));
  cmd->callback([&action, o] {
    action = [o] {
      TrainConfig cfg = load_train_config(o->config);
      if (o->minutes > 0) cfg.train.time_budget_minutes = o->minutes;
      if (!o->teacher_files.empty()) {
        cfg.train.teacher.clear();
        for (const std::string& f : o->teacher_files)
          cfg.train.teacher += (cfg.train.teacher.empty() ? "" : ",") + f;
      }
      if (o->epochs > 0) cfg.train.epochs = o->epochs;
      if (o->seed >= 0) cfg.train.seed = static_cast<uint64_t>(o->seed);
      if (o->threads > 0) cfg.train.threads = o->threads;
      cfg.train.device = o->device;
      const fs::path data = data_folder(o->data);
      train(
          cfg, data, in_data(data, o->list), in_data(data, o->val), o->out, o->resume,
          [](const std::string& line) { std::printf("%s\n", line.c_str()), std::fflush(stdout); }, o->init);
      return 0;
    };
  });
}

void add_boxmap_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand(
      "boxmap", "Fit the map from dlib's detector boxes to landmark boxes on annotated faces");
  struct Opts {
    std::string data, list = "train.txt", out;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("-d,--data", o->data, "Data folder (default $LDDMM_DATA/300w)");
  cmd->add_option("-l,--list", o->list, "Image list, relative to --data")->capture_default_str();
  cmd->add_option("-o,--out", o->out, "Output JSON (the installed map is resources/dlib_boxmap.json)")
      ->required();
  cmd->callback([&action, o] {
    action = [o] {
      const fs::path data = data_folder(o->data);
      const Scheme s = find_scheme("300w68");
      const FaceDataset set(data, in_data(data, o->list), s, s, 200);
      // First pass: identity map to find the matching detections, then fit, then match again.
      BoxMap map{0, 0, 1};
      std::vector<std::optional<Box>> found;
      for (int pass = 0; pass < 2; ++pass) {
        found = detect_faces(set, map);
        std::vector<Box> det, lm;
        for (size_t i = 0; i < set.size(); ++i) {
          if (found[i]) det.push_back(*found[i]), lm.push_back(landmark_box(set.record(i).points));
        }
        map = BoxMap::fit(det, lm);
        std::printf(
            "pass %d: %zu of %zu faces detected; landmark box centre = detector centre + (%.4f, %.4f)·w, "
            "side = %.4f·w\n",
            pass + 1, det.size(), set.size(), map.dx, map.dy, map.scale);
      }
      const fs::path out = o->out;
      std::ofstream(out) << nlohmann::json{{"dx", map.dx},
                                           {"dy", map.dy},
                                           {"scale", map.scale},
                                           {"source", "lddmm-face boxmap on " + o->list}}
                                .dump(1)
                         << '\n';
      std::printf("wrote %s\n", out.string().c_str());
      return 0;
    };
  });
}

void add_export_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand(
      "export",
      "Rewrite a model file (for example a float32 checkpoint as compact float16), or average the "
      "weights of several (a soup)");
  auto in = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  auto full = std::make_shared<bool>(false);
  cmd->add_option("-m,--model", *in,
                  "Model file to read; given more than once, the models (same configuration and scheme, for "
                  "example runs from one start) are averaged weight by weight, without calibration (run "
                  "calibrate on the result)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("-o,--out", *out, "Model file to write")->required();
  cmd->add_flag("--float32", *full, "Keep float32 weights (default: float16)");
  cmd->callback([&action, in, out, full] {
    action = [in, out, full] {
      check_outputs(std::vector<fs::path>(in->begin(), in->end()), {*out});
      std::vector<Aligner> models;
      for (const std::string& file : *in) models.push_back(load_model(file));
      Aligner model = models.size() == 1 ? models.front() : average_models(models);
      write_model(model, *out, *full,
                  models.size() == 1 ? "" : ", the average of " + std::to_string(models.size()));
      return 0;
    };
  });
}

void add_calibrate_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand(
      "calibrate",
      "Measure a model's mean landmark offset from the annotation (on its crops and on their mirror "
      "images) and write the model with that calibration");
  struct Opts {
    std::string model, out, data, list = "val.txt";
    bool full = false, crop_only = false;
    int threads = 0;
    std::string device = "auto";
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("-m,--model", o->model, "Model file to read")->required();
  cmd->add_option("-o,--out", o->out, "Model file to write")->required();
  cmd->add_flag("--crop-only", o->crop_only,
                "Only the offset in input-crop pixels (the mean), no image-pixel part (calibrations "
                "before 2026-11-30)");
  cmd->add_option("-d,--data", o->data, "Data folder (default $LDDMM_DATA/300w)");
  cmd->add_option("-l,--list", o->list,
                  "Annotated faces the model was not trained on, relative to --data (a trained network "
                  "fits its training faces' offsets, so they show none)")
      ->capture_default_str();
  add_rewrite_options(cmd, o->full, o->threads, o->device);
  cmd->callback([&action, o] {
    action = [o] {
      Aligner model = open_model(o->model, o->out, o->threads, o->device);
      const fs::path data = data_folder(o->data);
      const FaceDataset set =
          model_faces(model, data, o->list, static_cast<int>(model->config().input_size * 1.25));
      if (set.size() == 0) throw std::runtime_error(o->list + ": no faces");
      const Calibration before = model->config().calibration;
      model->set_calibration({});
      // One pass on the landmark-box crops, without and with the mirrored crop (whose prediction is the
      // average of the two): the mirrored crop's own prediction is 2·both − direct.
      const EvalResult direct = evaluate(model, set, nullptr, 32, false, 0);
      const EvalResult both = evaluate(model, set, nullptr, 32, true, 0);
      const double S = model->config().input_size;
      // Each face's mean offset in input-crop pixels, and its crop's scale (crop pixels per pixel of the
      // photo as annotated: the records of large faces are reduced copies).
      std::vector<std::array<double, 2>> d(set.size()), m(set.size());
      std::vector<double> scale(set.size());
      for (size_t i = 0; i < set.size(); ++i) {
        const Points truth = set.target_points(i);
        const Box b = landmark_box(truth);
        const double to_crop = S / (1.25 * std::max(b.w, b.h));  // record pixels → input-crop pixels
        scale[i] = to_crop * set.record(i).scale;
        const Points mirrored = 2 * both.predicted[i] - direct.predicted[i];
        for (int a = 0; a < 2; ++a) {
          d[i][static_cast<size_t>(a)] = (direct.predicted[i].col(a) - truth.col(a)).mean() * to_crop;
          m[i][static_cast<size_t>(a)] = (mirrored.col(a) - truth.col(a)).mean() * to_crop;
        }
      }
      const CalibrationFit fd = fit_calibration(d, scale, !o->crop_only);
      const CalibrationFit fm = fit_calibration(m, scale, !o->crop_only);
      Calibration c;
      c.direct = fd.crop;
      c.direct_image = fd.image;
      c.mirrored = fm.crop;
      c.mirrored_image = fm.image;
      model->set_calibration(c);
      const EvalResult after = evaluate(model, set, nullptr, 32, false, 0);
      std::printf(
          "%zu faces of %s, one pass on landmark-box crops; offset from the annotation, input-crop pixels "
          "+ image pixels (was %+.3f %+.3f + %+.3f %+.3f / %+.3f %+.3f + %+.3f %+.3f):\n"
          "  direct   x %+.3f + %+.3f  y %+.3f + %+.3f\n  mirrored x %+.3f + %+.3f  y %+.3f + %+.3f\n"
          "NME of the direct pass %.2f %% uncalibrated, %.2f %% calibrated (on the same faces)\n",
          set.size(), o->list.c_str(), before.direct[0], before.direct[1], before.direct_image[0],
          before.direct_image[1], before.mirrored[0], before.mirrored[1], before.mirrored_image[0],
          before.mirrored_image[1], c.direct[0], c.direct_image[0], c.direct[1], c.direct_image[1],
          c.mirrored[0], c.mirrored_image[0], c.mirrored[1], c.mirrored_image[1], 100 * direct.summary.mean,
          100 * after.summary.mean);
      write_model(model, o->out, o->full);
      return 0;
    };
  });
}

void add_eval_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("eval", "Evaluate a model on annotated faces: NME, FR, AUC, NME_c, DetJ");
  struct Opts {
    std::vector<std::string> models;
    std::string data, list = "val.txt", csv, points, boxes = "landmarks";
    bool json = false, vs_dlib = false, flip = false, no_alternate = false;
    int threads = 0, refine = 5;
    std::string device = "auto";
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("-m,--model", o->models,
                  "Model file; repeated, an ensemble: every view is the models' mean prediction on the same "
                  "crop (as annotate/bench -m A -m B)")
      ->required();
  cmd->add_flag(
      "--no-alternate", o->no_alternate,
      "Every refinement pass sees the crop itself and the last one gives the landmarks (default: "
      "the passes alternate between the mirrored crop and the crop, at several scales, and are averaged)");
  cmd->add_flag("--flip", o->flip,
                "Test-time mirroring: average with the mirrored crop's prediction (2x time)");
  cmd->add_option(
         "--refine", o->refine,
         "Passes that crop again around the box of the landmarks so far, turned upright with the face, in "
         "pairs (the crop's mirror image, then the crop) at 1, 0.9, 1.1, 0.8, 1.2 x that box, averaged (each "
         "1x time; 5 is what the tracker does with a newly detected face)")
      ->check(CLI::Range(0, 9))
      ->capture_default_str();
  cmd->add_option("--boxes", o->boxes,
                  "Face boxes: landmarks (from the annotation) or dlib (HOG detector, mapped)")
      ->check(CLI::IsMember({"landmarks", "dlib"}))
      ->capture_default_str();
  cmd->add_flag("--vs-dlib", o->vs_dlib,
                "Also run dlib's 68-point shape predictor on the same faces and detector boxes");
  cmd->add_option("-d,--data", o->data, "Data folder (default $LDDMM_DATA/300w)");
  cmd->add_option("-l,--list", o->list, "Image list, relative to --data")->capture_default_str();
  cmd->add_option("--csv", o->csv, "Write per-face NME to this CSV file");
  cmd->add_option("--points", o->points,
                  "Write every face's predicted points to this CSV file (face, by (ours or dlib with "
                  "--vs-dlib), x0, y0, x1, y1, ... in the image's pixels)");
  cmd->add_flag("--json", o->json, "Print the metrics as JSON");
  cmd->add_option("--threads", o->threads, "Threads (default: all cores)")->check(CLI::Range(1, 256));
  add_device_option(cmd, o->device);
  cmd->callback([&action, o] {
    action = [o] {
      check_outputs(std::vector<fs::path>(o->models.begin(), o->models.end()), {o->csv, o->points});
      use_threads(o->threads);
      EvalRequest rq;
      rq.models = o->models;
      const char* env = std::getenv("LDDMM_DATA");  // checked after the models are read (their errors first)
      if (!o->data.empty() || (env != nullptr && *env != '\0')) rq.data = data_folder(o->data);
      rq.list = o->list;
      rq.boxes = o->boxes;
      rq.vs_dlib = o->vs_dlib;
      rq.flip = o->flip;
      rq.alternate = !o->no_alternate;
      rq.refine = o->refine;
      rq.device = o->device;
      Progress passes(stderr, o->refine + 1, false);
      const EvalReport r = run_eval(rq, [&](int k, int) { passes.update(k, "passes over the faces"); });
      passes.finish();
      if (!o->csv.empty()) write_eval_csv(r, o->csv);
      if (!o->points.empty()) write_eval_points(r, o->points);
      if (o->json)
        std::printf("%s\n", eval_json(r).c_str());
      else
        print_eval(stdout, r);
      return 0;
    };
  });
}

}  // namespace lddmm::app
