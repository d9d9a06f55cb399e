// Output paths against a run's inputs: every way to name one file (the path itself, another spelling, a
// symlink, a hard link) is caught, two different files are not; the partial name and its rename.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "lddmm/io/safe_output.hpp"
#include "scratch_dir.hpp"

namespace lddmm {
namespace {

namespace fs = std::filesystem;

void touch(const fs::path& p, const char* text = "x") { std::ofstream(p) << text; }

TEST(SafeOutput, EveryNameOfAnInputIsRefused) {
  testing::ScratchDir dir;
  const fs::path video = dir / "v.mp4";
  touch(video);
  fs::create_directories(dir / "sub");
  fs::create_symlink(video, dir / "link.mp4");
  fs::create_hard_link(video, dir / "hard.mp4");
  for (const fs::path& out : {video, dir / "sub" / ".." / "v.mp4", dir / "link.mp4", dir / "hard.mp4"})
    EXPECT_THROW(check_outputs({video}, {out}), std::runtime_error) << out;
  touch(dir / "other.csv");
  EXPECT_NO_THROW(check_outputs({video}, {dir / "other.csv", dir / "new.json", fs::path()}));
}

TEST(SafeOutput, TwoOutputsOfOneFileAreRefusedExistingOrNot) {
  testing::ScratchDir dir;
  EXPECT_THROW(check_outputs({}, {dir / "a.mp4", dir / "." / "a.mp4"}), std::runtime_error);
  touch(dir / "b.csv");
  fs::create_symlink(dir / "b.csv", dir / "c.csv");
  EXPECT_THROW(check_outputs({}, {dir / "b.csv", dir / "c.csv"}), std::runtime_error);
  try {
    check_outputs({}, {dir / "b.csv", dir / "c.csv"});
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("c.csv: named for two outputs"), std::string::npos) << e.what();
  }
}

TEST(SafeOutput, APartialFileKeepsItsExtensionAndIsRenamedWhenComplete) {
  EXPECT_EQ(partial_path("/a/b/out.csv"), fs::path("/a/b/out.partial.csv"));
  EXPECT_EQ(partial_path("clip.overlay.mp4"), fs::path("clip.overlay.partial.mp4"));
  EXPECT_EQ(partial_path("noext"), fs::path("noext.partial"));
  testing::ScratchDir dir;
  touch(dir / "r.json", "old");
  touch(partial_path(dir / "r.json"), "new");
  commit_partial(dir / "r.json");
  EXPECT_FALSE(fs::exists(partial_path(dir / "r.json")));
  std::ifstream in(dir / "r.json");
  std::string text;
  in >> text;
  EXPECT_EQ(text, "new");
  EXPECT_THROW(commit_partial(dir / "absent.csv"), std::runtime_error);
}

}  // namespace
}  // namespace lddmm
