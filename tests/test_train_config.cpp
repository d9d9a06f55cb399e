// Training configurations: every recipe in configs/ loads, a typo or a float where a whole number belongs is
// an error naming the field.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "lddmm/train/trainer.hpp"
#include "scratch_dir.hpp"

namespace lddmm {
namespace {

namespace fs = std::filesystem;

std::string error_of(const testing::ScratchDir& dir, const std::string& text) {
  const fs::path file = dir / "c.json";
  std::ofstream(file) << text;
  try {
    load_train_config(file);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

TEST(TrainConfig, EveryRecipeInConfigsAndExperimentsLoads) {
  for (const char* dir : {LDDMM_CONFIGS_DIR, LDDMM_EXPERIMENT_CONFIGS_DIR}) {
    int n = 0;
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.path().extension() == ".json") {
        EXPECT_NO_THROW(load_train_config(entry.path())) << entry.path();
        ++n;
      }
    EXPECT_GT(n, 0) << dir;
  }
}

TEST(TrainConfig, TyposAndFloatCountsAreErrors) {
  const testing::ScratchDir dir;
  const std::string file = (dir / "c.json").string();
  EXPECT_EQ(error_of(dir, R"({"train": {"epochs": 3, "batch_size": 4}})"), "no error");
  EXPECT_EQ(error_of(dir, R"({"train": {"epochz": 3}})"),
            file + ": bad training configuration (unknown field \"train.epochz\")");
  EXPECT_EQ(error_of(dir, R"({"train": {"augment": {"mirorr": true}}})"),
            file + ": bad training configuration (unknown field \"train.augment.mirorr\")");
  EXPECT_EQ(error_of(dir, R"({"trian": {}})"),
            file + ": bad training configuration (unknown field \"trian\")");
  EXPECT_EQ(error_of(dir, R"({"train": {"epochs": 1e99}})"),
            file + ": bad training configuration (\"train.epochs\" must be a whole number)");
  EXPECT_EQ(error_of(dir, R"({"train": {"detail_only": 1}})"),
            file + ": bad training configuration (\"train.detail_only\" must be true or false)");
}

}  // namespace
}  // namespace lddmm
