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
#include <stdexcept>
#include <string>
#include <thread>

#include "commands.hpp"
#include "lddmm/core/device.hpp"
#include "lddmm/core/progress.hpp"
#include "lddmm/core/pts_io.hpp"
#include "lddmm/core/safe_output.hpp"
#include "lddmm/data/trainer.hpp"
#include "lddmm/face/faces.hpp"

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

fs::path boxmap_file() { return scheme_dir().parent_path() / "dlib_boxmap.json"; }

// For each face, the detection that best matches its landmarks (IoU of the mapped box ≥ 0.3), if any.
std::vector<std::optional<Box>> detect_faces(const FaceDataset& set, const BoxMap& map) {
  FaceDetector detector;
  std::vector<std::optional<Box>> found(set.size());
  Progress progress(stderr, static_cast<int64_t>(set.size()), false);
  for (size_t i = 0; i < set.size(); ++i) {
    const Box truth = landmark_box(set.record(i).points);
    double best = 0.3;
    for (const Box& d : detector.detect(set.record(i).image)) {
      const double o = iou(map.apply(d), truth);
      if (o >= best) best = o, found[i] = d;
    }
    progress.update(static_cast<int64_t>(i + 1), "photos through dlib's detector");
  }
  progress.finish();
  return found;
}

void use_threads(int threads) {
  torch::set_num_threads(threads > 0 ? threads
                                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

// The faces of `list` with the model's points (taken from their annotation: the parent scheme of a subset
// scheme), photos reduced so that a landmark box is at most `max_side` pixels.
FaceDataset model_faces(const Aligner& model, const fs::path& data, const std::string& list, int max_side) {
  const Scheme& scheme = model->scheme();
  const Scheme annotation = scheme.subset_of ? find_scheme(scheme.subset_of->parent) : scheme;
  return FaceDataset(data, in_data(data, list), annotation, scheme, max_side);
}

// Saves a model (float16 unless `full`) and says where, in which precision and how large.
void write_model(Aligner& model, const std::string& out, bool full, const std::string& note = "") {
  save_model(model, out, !full);
  std::printf("wrote %s (%s, %.1f MB%s)\n", out.c_str(), full ? "float32" : "float16",
              static_cast<double>(fs::file_size(out)) / 1e6, note.c_str());
}

}  // namespace

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

namespace {
// "none", or each view's offsets: input-crop pixels, then (when there is one) the image-pixel part.
std::string describe_calibration(const Calibration& c) {
  if (c.empty()) return "none";
  const auto xy = [](const std::array<double, 2>& v) {
    char b[64];
    std::snprintf(b, sizeof b, "%+.3f %+.3f", v[0], v[1]);
    return std::string(b);
  };
  std::string out = "direct " + xy(c.direct) + ", mirrored " + xy(c.mirrored);
  if (c.has_image_term())
    out += "; image px: direct " + xy(c.direct_image) + ", mirrored " + xy(c.mirrored_image);
  return out;
}
}  // namespace

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
  cmd->add_flag("--float32", o->full, "Keep float32 weights (default: float16)");
  cmd->add_option("--threads", o->threads, "Threads (default: all cores)")->check(CLI::Range(1, 256));
  add_device_option(cmd, o->device);
  cmd->callback([&action, o] {
    action = [o] {
      check_outputs({o->model}, {o->out});
      use_threads(o->threads);
      Aligner model = load_model(o->model);
      model->to(parse_device(o->device));
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
      std::vector<Aligner> models;
      std::string names;  // the files, joined with " + "
      for (const std::string& file : o->models) {
        models.push_back(load_model(file));
        models.back()->to(parse_device(o->device));
        names += (names.empty() ? "" : " + ") + file;
      }
      Aligner& model = models.front();
      const fs::path data = data_folder(o->data);
      const Scheme& scheme = model->scheme();
      // Each model sees the photos reduced to its own crop scale (as it was trained).
      std::vector<FaceDataset> sets;
      for (const Aligner& m : models)
        sets.push_back(model_faces(m, data, o->list, static_cast<int>(m->config().input_size * 1.25)));
      const FaceDataset& set = sets.front();
      // Detector boxes: faces the detector misses keep their landmark box (and dlib gets the detector box
      // such a landmark box would come from), and are counted.
      std::vector<std::optional<Box>> detections;
      std::vector<std::vector<Box>> boxes(models.size());
      const bool use_dlib = o->boxes == "dlib" || o->vs_dlib;
      BoxMap map;
      int missed = 0;
      // The detector and dlib's predictor see the images at their own resolution (the set above is reduced
      // to the model's crop scale); detector boxes are scaled into the reduced images for our crops.
      std::optional<FaceDataset> original;
      if (use_dlib) {
        original.emplace(model_faces(model, data, o->list, std::numeric_limits<int>::max()));
        map = BoxMap::load(boxmap_file().string());
        detections = detect_faces(*original, map);
        for (size_t i = 0; i < set.size(); ++i) missed += detections[i] ? 0 : 1;
        for (size_t m = 0; m < models.size(); ++m) {
          for (size_t i = 0; i < set.size(); ++i) {
            const Box full = landmark_box(original->record(i).points),
                      reduced = landmark_box(sets[m].record(i).points);
            const double f = reduced.w / std::max(full.w, 1e-9);  // reduced pixels per original pixel
            if (detections[i]) {
              const Box b = map.apply(*detections[i]);
              boxes[m].push_back({b.x * f, b.y * f, b.w * f, b.h * f, b.score});
            } else {
              boxes[m].push_back(reduced);
            }
          }
        }
      }
      // Whether the detector found face i (every face counts as found with landmark boxes).
      const auto detected = [&](size_t i) { return !use_dlib || detections[i].has_value(); };
      std::vector<EvalMember> members;
      for (size_t m = 0; m < models.size(); ++m)
        members.push_back({models[m], &sets[m], o->boxes == "dlib" ? &boxes[m] : nullptr});
      Progress passes(stderr, o->refine + 1, false);
      const std::string what = "passes over " + std::to_string(set.size()) + " faces";
      const EvalResult r = evaluate(members, 32, o->flip, o->refine, !o->no_alternate,
                                    [&](int k, int) { passes.update(k, what); });
      passes.finish();
      std::optional<NmeSummary> dlib_row;
      std::vector<double> dlib_errors;
      std::vector<PartErrors> dlib_parts;  // NME_c per face, as ours
      std::vector<Points> dlib_points;     // in the image's pixels
      const std::vector<Part> parts = scheme.point_parts();
      if (o->vs_dlib) {
        const ShapePredictor predictor;
        for (size_t i = 0; i < set.size(); ++i) {
          const FaceRecord& face = original->record(i);
          const Box b = detections[i] ? *detections[i] : map.invert(landmark_box(face.points));
          const Points p68 = predictor.predict(face.image, b);
          Points p = p68;
          if (scheme.subset_of) {
            p.resize(scheme.num_points, 2);
            for (int k = 0; k < scheme.num_points; ++k)
              p.row(k) = p68.row(scheme.subset_of->indices[static_cast<size_t>(k)]);
          }
          const Points truth = original->target_points(i);
          const double d = normalising_distance(truth, scheme.normalisation);
          dlib_errors.push_back(nme(p, truth, d));
          dlib_points.push_back(p / face.scale);
          dlib_parts.push_back(nme_curves(p, parts, truth, parts, d));
        }
        dlib_row = summarize(dlib_errors);
      }
      // What detector misses cost: the rows on the faces it found, and FR@0.1 if a miss counts as a failure
      // (a product that sees no face gives no landmarks).
      struct MissCost {
        NmeSummary ours, dlib;
        double ours_fr = 0, dlib_fr = 0;
      };
      std::optional<MissCost> miss_cost;
      if (use_dlib && missed > 0) {
        MissCost c;
        std::vector<double> ours_found, dlib_found;
        for (size_t i = 0; i < set.size(); ++i) {
          if (!detected(i)) continue;
          ours_found.push_back(r.nme[i]);
          if (!dlib_errors.empty()) dlib_found.push_back(dlib_errors[i]);
        }
        c.ours = summarize(ours_found);
        const auto fr = [&](const std::vector<double>& found) {
          const auto fails = std::count_if(found.begin(), found.end(), [](double e) { return e > 0.1; });
          return static_cast<double>(fails + missed) / static_cast<double>(set.size());
        };
        c.ours_fr = fr(ours_found);
        if (!dlib_found.empty()) {
          c.dlib = summarize(dlib_found);
          c.dlib_fr = fr(dlib_found);
        }
        miss_cost = c;
      }
      // Rows by subset (the list's first folder) and by face size (the landmark box side in the photo's
      // pixels): where the model and dlib differ. With detector boxes, on the faces the detector found (a
      // face it missed has no detector box, and dlib's predictor fails on the stand-in).
      struct GroupRow {
        std::string label;
        NmeSummary ours, dlib;
      };
      std::vector<double> face_px;
      std::vector<std::string> folders;
      std::vector<int> folder_of, band_of;
      for (size_t i = 0; i < set.size(); ++i) {
        const FaceRecord& face = set.record(i);
        const Eigen::RowVector2d extent = face.points.colwise().maxCoeff() - face.points.colwise().minCoeff();
        face_px.push_back(extent.maxCoeff() / face.scale);
        const auto slash = face.name.find('/');
        const std::string folder = slash == std::string::npos ? std::string() : face.name.substr(0, slash);
        const auto at = std::find(folders.begin(), folders.end(), folder);
        folder_of.push_back(static_cast<int>(at - folders.begin()));
        if (at == folders.end()) folders.push_back(folder);
      }
      const std::vector<double> size_edges = {100, 150, 200};
      for (double px : face_px) band_of.push_back(band(px, size_edges));
      const auto group_rows = [&](const std::vector<int>& group, const std::vector<std::string>& labels) {
        const int n = static_cast<int>(labels.size());
        std::vector<int> kept = group;  // missed faces go to an extra group, left out
        for (size_t i = 0; i < kept.size(); ++i)
          if (!detected(i)) kept[i] = n;
        const std::vector<NmeSummary> ours = summarize_groups(r.nme, kept, n + 1);
        const std::vector<NmeSummary> theirs = dlib_errors.empty()
                                                   ? std::vector<NmeSummary>(labels.size() + 1)
                                                   : summarize_groups(dlib_errors, kept, n + 1);
        std::vector<GroupRow> rows;
        for (size_t g = 0; g < labels.size(); ++g)
          if (ours[g].faces > 0) rows.push_back({labels[g], ours[g], theirs[g]});
        return rows;
      };
      const std::vector<GroupRow> by_folder =
          folders.size() > 1 ? group_rows(folder_of, folders) : std::vector<GroupRow>{};
      const std::vector<GroupRow> by_size = group_rows(band_of, {"< 100", "100-150", "150-200", ">= 200"});
      // NME_c of ours and dlib's on the same faces (those the detector found): the curve distance leaves out
      // where along a contour a point sits, which NME_l counts.
      std::optional<std::pair<PartErrors, PartErrors>> curves_vs_dlib;
      if (!dlib_parts.empty()) {
        std::vector<PartErrors> ours_found, dlib_found;
        for (size_t i = 0; i < set.size(); ++i) {
          if (!detected(i)) continue;
          ours_found.push_back(r.parts[i]);
          dlib_found.push_back(dlib_parts[i]);
        }
        if (!ours_found.empty())
          curves_vs_dlib.emplace(mean_part_errors(ours_found), mean_part_errors(dlib_found));
      }
      const auto parts_json = [](const PartErrors& e) {
        return nlohmann::json{{"O", e.overall}, {"F", e.part[0]}, {"E", e.part[1]},
                              {"N", e.part[2]}, {"I", e.part[3]}, {"M", e.part[4]}};
      };
      if (!o->csv.empty()) {
        std::ofstream csv(o->csv);
        if (!csv) throw std::runtime_error(o->csv + ": cannot write");
        csv << "face,nme" << (use_dlib ? ",detected" : "") << (dlib_errors.empty() ? "" : ",dlib_nme")
            << ",face_px,dx,dy" << (dlib_points.empty() ? "" : ",dlib_dx,dlib_dy") << '\n';
        for (size_t k = 0; k < r.names.size(); ++k) {
          csv << r.names[k] << ',' << r.nme[k];
          if (use_dlib) csv << ',' << (detections[k] ? 1 : 0);
          if (!dlib_errors.empty()) csv << ',' << dlib_errors[k];
          // The mean signed offset of our points from the annotation, in the photo's pixels.
          const Eigen::RowVector2d off =
              (r.predicted[k] - set.target_points(k)).colwise().mean() / set.record(k).scale;
          csv << ',' << face_px[k] << ',' << off.x() << ',' << off.y();
          if (!dlib_points.empty()) {
            const Eigen::RowVector2d d =
                (dlib_points[k] - original->target_points(k) / original->record(k).scale).colwise().mean();
            csv << ',' << d.x() << ',' << d.y();
          }
          csv << '\n';
        }
      }
      if (!o->points.empty()) {
        std::ofstream out(o->points);
        if (!out) throw std::runtime_error(o->points + ": cannot write");
        out << "face,by";
        for (Eigen::Index k = 0; k < (r.predicted.empty() ? 0 : r.predicted.front().rows()); ++k)
          out << ",x" << k << ",y" << k;
        out << '\n';
        out.precision(7);
        const auto row = [&out](const std::string& name, const char* by, const Points& photo) {
          out << name << ',' << by;
          for (Eigen::Index k = 0; k < photo.rows(); ++k) out << ',' << photo(k, 0) << ',' << photo(k, 1);
          out << '\n';
        };
        for (size_t i = 0; i < r.names.size(); ++i) {
          row(r.names[i], "ours", r.predicted[i] / set.record(i).scale);  // the record is the image scaled
          if (!dlib_points.empty()) row(r.names[i], "dlib", dlib_points[i]);
        }
      }
      const auto& p = r.mean_parts.part;
      if (o->json) {
        nlohmann::json j = {
            {"model", names},
            {"list", o->list},
            {"faces", r.summary.faces},
            {"nme", r.summary.mean},
            {"fr_0.1", r.summary.failure},
            {"auc_0.1", r.summary.auc},
            {"nme_c",
             {{"O", r.mean_parts.overall}, {"F", p[0]}, {"E", p[1]}, {"N", p[2]}, {"I", p[3]}, {"M", p[4]}}},
            {"detj",
             {{"mean", r.detj.mean_det},
              {"nonpositive", r.detj.nonpositive},
              {"of_mean", r.detj.det_of_mean}}},
            {"ms_per_face", 1000 * r.seconds / std::max(1, r.summary.faces)},
            {"boxes", o->boxes},
            {"flip", o->flip},
            {"refine", o->refine},
            {"alternate", !o->no_alternate},
            {"calibrated", !model->config().calibration.empty()},
            {"detector_missed", missed}};
        if (dlib_row)
          j["dlib"] = {{"nme", dlib_row->mean}, {"fr_0.1", dlib_row->failure}, {"auc_0.1", dlib_row->auc}};
        if (r.dense) {
          const auto& dp = r.dense->mean_parts.part;
          j["dense"] = {{"scheme", r.dense->scheme},
                        {"nme_c",
                         {{"O", r.dense->mean_parts.overall},
                          {"F", dp[0]},
                          {"E", dp[1]},
                          {"N", dp[2]},
                          {"I", dp[3]},
                          {"M", dp[4]}}}};
          if (!r.dense->nme.empty()) {
            j["dense"]["nme"] = r.dense->summary.mean;
            j["dense"]["fr_0.1"] = r.dense->summary.failure;
          }
        }
        if (miss_cost) {
          j["found_faces"] = {{"faces", miss_cost->ours.faces},
                              {"nme", miss_cost->ours.mean},
                              {"fr_0.1_misses_failed", miss_cost->ours_fr}};
          if (dlib_row)
            j["found_faces"]["dlib"] = {{"nme", miss_cost->dlib.mean},
                                        {"fr_0.1_misses_failed", miss_cost->dlib_fr}};
        }
        const auto group_json = [&](const std::vector<GroupRow>& rows, const char* key) {
          nlohmann::json a = nlohmann::json::array();
          for (const GroupRow& g : rows) {
            nlohmann::json e = {{key, g.label},
                                {"faces", g.ours.faces},
                                {"nme", g.ours.mean},
                                {"fr_0.1", g.ours.failure},
                                {"auc_0.1", g.ours.auc}};
            if (dlib_row)
              e["dlib"] = {{"nme", g.dlib.mean}, {"fr_0.1", g.dlib.failure}, {"auc_0.1", g.dlib.auc}};
            a.push_back(e);
          }
          return a;
        };
        if (curves_vs_dlib)
          j["nme_c_found_faces"] = {{"ours", parts_json(curves_vs_dlib->first)},
                                    {"dlib", parts_json(curves_vs_dlib->second)}};
        j["groups_on"] = use_dlib && missed > 0 ? "found_faces" : "all_faces";
        if (!by_folder.empty()) j["by_folder"] = group_json(by_folder, "folder");
        j["by_face_px"] = group_json(by_size, "face_px");
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
      }
      std::printf("%s on %s (%d faces, %.1f ms per face incl. cropping)\n", names.c_str(), o->list.c_str(),
                  r.summary.faces, 1000 * r.seconds / std::max(1, r.summary.faces));
      std::string calibrations;
      for (const Aligner& m : models)
        calibrations += (calibrations.empty() ? "" : "; ") + describe_calibration(m->config().calibration);
      std::printf("passes: %d%s%s%s; calibration (input-crop px) %s\n", 1 + o->refine,
                  o->flip ? ", each with its mirrored crop" : "",
                  !o->flip && o->refine > 0
                      ? (o->no_alternate ? ", the last one kept" : ", alternately mirrored, averaged")
                      : "",
                  models.size() > 1 ? ", each view the models' mean" : "", calibrations.c_str());
      std::printf("%-26s %8s %8s %8s\n", "", "NME %", "FR@0.1 %", "AUC@0.1");
      std::printf("%-26s %8.2f %8.2f %8.4f\n",
                  (o->boxes == "dlib" ? "ours (dlib boxes)" : "ours (landmark boxes)"), 100 * r.summary.mean,
                  100 * r.summary.failure, r.summary.auc);
      if (dlib_row)
        std::printf("%-26s %8.2f %8.2f %8.4f\n", "dlib 68 (dlib boxes)", 100 * dlib_row->mean,
                    100 * dlib_row->failure, dlib_row->auc);
      if (use_dlib)
        std::printf("dlib's detector missed %d of %zu faces: those were cropped around their landmark box\n",
                    missed, set.size());
      if (miss_cost) {
        std::printf("on the %d faces it found: ours %.2f %%", miss_cost->ours.faces,
                    100 * miss_cost->ours.mean);
        if (dlib_row) std::printf(", dlib %.2f %%", 100 * miss_cost->dlib.mean);
        std::printf("; a miss counted as a failure makes FR@0.1 %.2f %%", 100 * miss_cost->ours_fr);
        if (dlib_row) std::printf(" (dlib %.2f %%)", 100 * miss_cost->dlib_fr);
        std::printf("\n");
      }
      const auto print_groups = [&](const std::vector<GroupRow>& rows, const char* title) {
        std::printf("%s\n", title);
        for (const GroupRow& g : rows) {
          std::printf("  %-16s %4d faces  ours %5.2f %%  FR %5.2f %%", g.label.c_str(), g.ours.faces,
                      100 * g.ours.mean, 100 * g.ours.failure);
          if (dlib_row) std::printf("   dlib %5.2f %%  FR %5.2f %%", 100 * g.dlib.mean, 100 * g.dlib.failure);
          std::printf("\n");
        }
      };
      const std::string on = use_dlib && missed > 0 ? ", on the faces the detector found" : "";
      if (!by_folder.empty()) print_groups(by_folder, ("by folder" + on + ":").c_str());
      if (by_size.size() > 1)
        print_groups(by_size, ("by face size (landmark box side in the photo's pixels)" + on + ":").c_str());
      std::printf("NME_c %%:  O %.2f  F %.2f  E %.2f  N %.2f  I %.2f  M %.2f\n", 100 * r.mean_parts.overall,
                  100 * p[0], 100 * p[1], 100 * p[2], 100 * p[3], 100 * p[4]);
      if (curves_vs_dlib) {
        std::printf("NME_c %% on the faces the detector found:\n");
        for (const auto& [who, e] :
             {std::pair<const char*, const PartErrors&>{"ours", curves_vs_dlib->first},
              std::pair<const char*, const PartErrors&>{"dlib", curves_vs_dlib->second}})
          std::printf("  %-5s O %.2f  F %.2f  E %.2f  N %.2f  I %.2f  M %.2f\n", who, 100 * e.overall,
                      100 * e.part[0], 100 * e.part[1], 100 * e.part[2], 100 * e.part[3], 100 * e.part[4]);
      }
      if (r.dense) {
        const auto& dp = r.dense->mean_parts.part;
        std::printf("sparse to dense, all %s points:", r.dense->scheme.c_str());
        if (!r.dense->nme.empty())
          std::printf(" NME_l %.2f %%  FR@0.1 %.2f %%;", 100 * r.dense->summary.mean,
                      100 * r.dense->summary.failure);
        std::printf(" NME_c O %.2f  F %.2f  E %.2f  N %.2f  I %.2f  M %.2f\n",
                    100 * r.dense->mean_parts.overall, 100 * dp[0], 100 * dp[1], 100 * dp[2], 100 * dp[3],
                    100 * dp[4]);
      }
      if (r.detj.count > 0)
        std::printf("DetJ: DetJA %.3f  DetJN %ld  DetJAM %.3f  (%ld landmarks)\n", r.detj.mean_det,
                    r.detj.nonpositive, r.detj.det_of_mean, r.detj.count);
      return 0;
    };
  });
}

}  // namespace lddmm::app
