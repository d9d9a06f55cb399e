// The .pts reader and writer on hand-made files: variants that must parse, and malformed files that
// must give an error naming the file and the line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "lddmm/io/pts_io.hpp"
#include "scratch_dir.hpp"

namespace lddmm {
namespace {

std::string error_of(const std::string& text) {
  try {
    parse_pts(text, "face.pts");
  } catch (const PtsError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Pts, ReadsTheStandardLayout) {
  const Points p = parse_pts("version: 1\nn_points:  3\n{\n1.5 2\n3 4.25\n-5 6e1\n}\n", "x");
  ASSERT_EQ(p.rows(), 3);
  EXPECT_DOUBLE_EQ(p(0, 0), 1.5);
  EXPECT_DOUBLE_EQ(p(1, 1), 4.25);
  EXPECT_DOUBLE_EQ(p(2, 1), 60.0);
}

TEST(Pts, AcceptsCrlfCommentsBomAndHeaderVariants) {
  const std::string text =
      "\xEF\xBB\xBF# exported by a tool\r\nversion: 1\r\nn_points:2\r\n\r\n{ \r\n  10 20 // "
      "first\r\n\t30\t40\r\n}\r\n";
  const Points p = parse_pts(text, "x");
  ASSERT_EQ(p.rows(), 2);
  EXPECT_DOUBLE_EQ(p(1, 0), 30.0);
  const Points q = parse_pts("N_POINTS: 1\n{\n1 2\n}", "x");  // no version, no final newline, upper case
  EXPECT_EQ(q.rows(), 1);
}

TEST(Pts, MalformedFilesNameTheFileAndLine) {
  EXPECT_EQ(error_of("version: 1\nn_points: 2\n{\n1 2\n3 x\n}\n"),
            "face.pts:5: expected two numbers \"x y\", got \"3 x\"");
  EXPECT_EQ(error_of("version: 1\nn_points: 3\n{\n1 2\n3 4\n}\n"),
            "face.pts:6: n_points says 3 but 2 points follow");
  EXPECT_EQ(error_of("version: 1\nn_points: 1\n{\n1 2\n"), "face.pts:5: missing the closing '}'");
  EXPECT_EQ(error_of("hello\n"), "face.pts:1: expected \"version:\", \"n_points:\" or \"{\", got \"hello\"");
  EXPECT_EQ(error_of("n_points: -4\n{\n}\n"),
            "face.pts:1: n_points must be a non-negative integer, got \"-4\"");
  EXPECT_EQ(error_of("{\n1 2 3\n}\n"), "face.pts:2: expected two numbers \"x y\", got \"1 2 3\"");
  EXPECT_EQ(error_of("{\n1 2\n}\n7 8\n"), "face.pts:4: unexpected text after the closing '}'");
  EXPECT_EQ(error_of("{\nnan 2\n}\n"), "face.pts:2: expected two numbers \"x y\", got \"nan 2\"");
  EXPECT_EQ(error_of(""), "face.pts:1: no '{' found: this is not a .pts file");
}

TEST(Pts, WriteThenReadRoundTrips) {
  const testing::ScratchDir dir;
  const auto file = dir / "roundtrip.pts";
  Points p(3, 2);
  p << 1.125, 2.5, -3.75, 4, 1000.001, 0;
  write_pts(file, p);
  const Points q = read_pts(file);
  EXPECT_TRUE(q.isApprox(p, 1e-9));
  std::filesystem::remove(file);
  EXPECT_THROW(read_pts(file), PtsError);
}

TEST(Pts, ImageListsResolvePtsBesideEachImage) {
  const testing::ScratchDir scratch;
  const auto& dir = scratch.path();
  { std::ofstream(dir / "list.txt") << "a/one.jpg\r\n\n# comment\nb/two.png\n"; }
  const auto items = read_image_list(dir, dir / "list.txt");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].pts, dir / "a/one.pts");
  EXPECT_EQ(items[1].image, dir / "b/two.png");
}

}  // namespace
}  // namespace lddmm
