// lddmm-face: the command line of the LDDMM-Face tracker.
#include <opencv2/core/utils/logger.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "commands.hpp"
#include "interrupt.hpp"
#include "lddmm/net/device.hpp"
#include "version.hpp"

namespace lddmm::app {

CLI::Option* add_device_option(CLI::App* cmd, std::string& device) {
  return cmd
      ->add_option("--device", device, "Where the network runs: auto (a GPU when present), cpu, cuda, cuda:N")
      ->capture_default_str()
      ->check(
          [](const std::string& spec) {
            try {
              parse_device(spec);
              return std::string();
            } catch (const std::exception& e) {
              return std::string(e.what());
            }
          },
          "DEVICE");
}

}  // namespace lddmm::app

int main(int argc, char** argv) {
  lddmm::app::install_interrupt_handlers();
  // Our one error line is the message: OpenCV's and FFmpeg's own warnings stay quiet unless asked for.
  if (std::getenv("OPENCV_LOG_LEVEL") == nullptr)
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
  setenv("OPENCV_FFMPEG_LOGLEVEL", "-8", 0);  // AV_LOG_QUIET
  CLI::App app{
      "lddmm-face: LDDMM-Face facial landmark tracking, schemes, deformation flows, training and evaluation"};
  app.require_subcommand(0, 1);
  app.set_version_flag(
      "--version", [] { return lddmm::app::version_text("lddmm-face"); },
      "Versions of the program, its default model and its libraries");
  lddmm::app::Action action;
  // Grouped in --help: what users run first, then the flow tools, then training and model tools.
  const std::pair<const char*, std::vector<void (*)(CLI::App&, lddmm::app::Action&)>> groups[] = {
      {"Track faces",
       {lddmm::app::add_annotate_command, lddmm::app::add_merge_command, lddmm::app::add_bench_command,
        lddmm::app::add_sample_clip_command}},
      {"Flows and schemes",
       {lddmm::app::add_render_command, lddmm::app::add_schemes_command, lddmm::app::add_correspond_command,
        lddmm::app::add_meanface_command}},
      {"Train and check models",
       {lddmm::app::add_train_command, lddmm::app::add_eval_command, lddmm::app::add_calibrate_command,
        lddmm::app::add_fit_confidence_command, lddmm::app::add_export_command,
        lddmm::app::add_boxmap_command}}};
  for (const auto& [group, adders] : groups)
    for (auto* add : adders) {
      add(app, action);
      app.get_subcommands({}).back()->group(group);
    }
  std::string names;
  bool known = false;
  for (const CLI::App* sub : app.get_subcommands({})) {
    names += (names.empty() ? "" : ", ") + sub->get_name();
    known = known || (argc > 1 && sub->check_name(argv[1]));
  }
  if (argc > 1 && argv[1][0] != '-' && !known) {
    std::fprintf(stderr, "lddmm-face: error: unknown command \"%s\" (commands: %s)\n", argv[1],
                 names.c_str());
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line in the house style, exit 2 (a usage error), as other command-line tools do.
    std::string what = e.what();
    if (what.empty()) what = e.get_name();
    std::fprintf(stderr, "lddmm-face: error: %s (see --help)\n", what.c_str());
    return 2;
  }
  if (!action) {
    std::fprintf(stderr, "lddmm-face: error: a command is required (commands: %s; see --help)\n",
                 names.c_str());
    return 2;
  }
  try {
    return action();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lddmm-face: error: %s\n", e.what());
    return 1;
  }
}
