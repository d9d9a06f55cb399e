// The subcommands of lddmm-face. Each registers its options on the CLI11 app and returns the action to
// run when it is chosen.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace lddmm::app {

using Action = std::function<int()>;

/// `--device auto|cpu|cuda[:N]` (checked when parsed: a wrong word or an absent GPU is a usage error).
CLI::Option* add_device_option(CLI::App* cmd, std::string& device);

void add_schemes_command(CLI::App& app, Action& action);
void add_meanface_command(CLI::App& app, Action& action);
void add_correspond_command(CLI::App& app, Action& action);
void add_render_command(CLI::App& app, Action& action);
void add_train_command(CLI::App& app, Action& action);
void add_eval_command(CLI::App& app, Action& action);
void add_calibrate_command(CLI::App& app, Action& action);
void add_fit_confidence_command(CLI::App& app, Action& action);
void add_boxmap_command(CLI::App& app, Action& action);
void add_export_command(CLI::App& app, Action& action);
void add_annotate_command(CLI::App& app, Action& action);
void add_merge_command(CLI::App& app, Action& action);
void add_bench_command(CLI::App& app, Action& action);
void add_sample_clip_command(CLI::App& app, Action& action);

}  // namespace lddmm::app
