// `train` and `eval`: the aligner's trainer and evaluator.
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "commands.hpp"
#include "lddmm/trainer.hpp"

namespace lddmm::app {
namespace {

namespace fs = std::filesystem;

fs::path default_data() {
  const char* env = std::getenv("LDDMM_DATA");
  return fs::path(env != nullptr && *env != '\0' ? env : "../shared/data") / "300w";
}

fs::path in_data(const fs::path& data, const std::string& list) {
  return fs::exists(list) ? fs::path(list) : data / list;
}

}  // namespace

void add_train_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("train", "Train an aligner from a configuration file on annotated faces");
  struct Opts {
    std::string config, data, list = "train.txt", val = "val.txt", out;
    bool resume = false;
    int epochs = 0, threads = 0;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("-c,--config", o->config, "Training configuration (JSON, see configs/)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("-d,--data", o->data, "Data folder (default $LDDMM_DATA/300w or ../shared/data/300w)");
  cmd->add_option("-l,--list", o->list, "Training list, relative to --data")->capture_default_str();
  cmd->add_option("--val", o->val, "Validation list, relative to --data")->capture_default_str();
  cmd->add_option("-o,--out", o->out, "Run folder: checkpoints, best.pt, log.csv")->required();
  cmd->add_flag("--resume", o->resume, "Continue from the run folder's last checkpoint");
  cmd->add_option("--epochs", o->epochs, "Override the configuration's epochs")->check(CLI::PositiveNumber);
  cmd->add_option("--threads", o->threads, "Override the number of threads")->check(CLI::PositiveNumber);
  cmd->callback([&action, o] {
    action = [o] {
      TrainConfig cfg = load_train_config(o->config);
      if (o->epochs > 0) cfg.train.epochs = o->epochs;
      if (o->threads > 0) cfg.train.threads = o->threads;
      const fs::path data = o->data.empty() ? default_data() : fs::path(o->data);
      train(cfg, data, in_data(data, o->list), in_data(data, o->val), o->out, o->resume,
            [](const std::string& line) { std::printf("%s\n", line.c_str()), std::fflush(stdout); });
      return 0;
    };
  });
}

void add_eval_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("eval", "Evaluate a model on annotated faces: NME, FR, AUC, NME_c, DetJ");
  struct Opts {
    std::string model, data, list = "val.txt", csv;
    bool json = false;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("-m,--model", o->model, "Model file")->required();
  cmd->add_option("-d,--data", o->data, "Data folder (default $LDDMM_DATA/300w or ../shared/data/300w)");
  cmd->add_option("-l,--list", o->list, "Image list, relative to --data")->capture_default_str();
  cmd->add_option("--csv", o->csv, "Write per-face NME to this CSV file");
  cmd->add_flag("--json", o->json, "Print the metrics as JSON");
  cmd->add_option("--threads", o->threads, "Threads (default: all cores)")->check(CLI::PositiveNumber);
  cmd->callback([&action, o] {
    action = [o] {
      torch::set_num_threads(
          o->threads > 0 ? o->threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
      Aligner model = load_model(o->model);
      const fs::path data = o->data.empty() ? default_data() : fs::path(o->data);
      const Scheme& scheme = model->scheme();
      const Scheme annotation = scheme.subset_of ? find_scheme(scheme.subset_of->parent) : scheme;
      const FaceDataset set(data, in_data(data, o->list), annotation, scheme,
                            static_cast<int>(model->config().input_size * 1.25));
      const EvalResult r = evaluate(model, set);
      if (!o->csv.empty()) {
        std::ofstream csv(o->csv);
        if (!csv) throw std::runtime_error(o->csv + ": cannot write");
        csv << "face,nme\n";
        for (size_t k = 0; k < r.names.size(); ++k) csv << r.names[k] << ',' << r.nme[k] << '\n';
      }
      const auto& p = r.mean_parts.part;
      if (o->json) {
        nlohmann::json j = {
            {"model", o->model},
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
            {"ms_per_face", 1000 * r.seconds / std::max(1, r.summary.faces)}};
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
      }
      std::printf("%s on %s (%d faces, %.1f ms per face incl. cropping)\n", o->model.c_str(), o->list.c_str(),
                  r.summary.faces, 1000 * r.seconds / std::max(1, r.summary.faces));
      std::printf("%-22s %8s %8s %8s\n", "", "NME %", "FR@0.1 %", "AUC@0.1");
      std::printf("%-22s %8.2f %8.2f %8.4f\n", "ours", 100 * r.summary.mean, 100 * r.summary.failure,
                  r.summary.auc);
      std::printf("NME_c %%:  O %.2f  F %.2f  E %.2f  N %.2f  I %.2f  M %.2f\n", 100 * r.mean_parts.overall,
                  100 * p[0], 100 * p[1], 100 * p[2], 100 * p[3], 100 * p[4]);
      if (r.detj.count > 0)
        std::printf("DetJ: DetJA %.3f  DetJN %ld  DetJAM %.3f  (%ld landmarks)\n", r.detj.mean_det,
                    r.detj.nonpositive, r.detj.det_of_mean, r.detj.count);
      return 0;
    };
  });
}

}  // namespace lddmm::app
