// WFLW and HELEN annotation readers on fixtures written here.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "lddmm/io/annotations.hpp"
#include "scratch_dir.hpp"

namespace lddmm {
namespace {

namespace fs = std::filesystem;

class Fixtures : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = std::make_unique<testing::ScratchDir>();
    dir_ = scratch_->path();
    fs::create_directories(dir_ / "helen");
  }
  void TearDown() override { scratch_.reset(); }
  fs::path write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
    return dir_ / name;
  }
  static std::string wflw_line(double offset, const std::string& image) {
    std::string s;
    for (int p = 0; p < 98; ++p) s += std::to_string(p + offset) + " " + std::to_string(2 * p + offset) + " ";
    return s + "10 20 300 310 0 1 0 0 1 0 " + image;
  }
  std::unique_ptr<testing::ScratchDir> scratch_;
  fs::path dir_;
};

TEST_F(Fixtures, WflwListsGivePointsBoxesAttributesAndImages) {
  const fs::path list =
      write("wflw.txt", wflw_line(0.5, "51--Dresses/a.jpg") + "\r\n\n" + wflw_line(1, "b.jpg") + "\n");
  const auto a = read_wflw_list(list, "/images");
  ASSERT_EQ(a.size(), 2u);
  EXPECT_DOUBLE_EQ(a[0].points(97, 0), 97.5);
  EXPECT_DOUBLE_EQ(a[0].points(97, 1), 194.5);
  EXPECT_EQ(a[0].image, fs::path("/images/51--Dresses/a.jpg"));
  ASSERT_TRUE(a[1].box.has_value());
  EXPECT_DOUBLE_EQ((*a[1].box)[2], 300);
  EXPECT_EQ(a[1].attributes, (std::vector<int>{0, 1, 0, 0, 1, 0}));
}

TEST_F(Fixtures, MalformedWflwLinesNameTheLine) {
  std::string bad = wflw_line(0, "a.jpg");
  bad.replace(bad.find("2.000000"), 8, "two");
  const fs::path list = write("bad.txt", wflw_line(0, "ok.jpg") + "\n" + bad + "\n");
  try {
    read_wflw_list(list, "/");
    FAIL() << "no error";
  } catch (const AnnotationError& e) {
    EXPECT_EQ(std::string(e.what()), list.string() + ":2: field 4 is not a number: \"two\"");
  }
  const fs::path short_list = write("short.txt", "1 2 3 a.jpg\n");
  EXPECT_THROW(read_wflw_list(short_list, "/"), AnnotationError);
}

TEST_F(Fixtures, HelenFilesGive194Points) {
  std::string text = "100032540_1\r\n";
  for (int p = 0; p < 194; ++p) text += std::to_string(3 * p) + ".25 , " + std::to_string(p) + ".5\r\n";
  write("helen/1.txt", text);
  write("helen/2.txt", text);
  const auto all = read_helen_folder(dir_ / "helen", "/helen/img");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].image, fs::path("/helen/img/100032540_1.jpg"));
  EXPECT_DOUBLE_EQ(all[0].points(193, 0), 579.25);
  EXPECT_DOUBLE_EQ(all[0].points(193, 1), 193.5);
  const fs::path bad = write("helen/3.txt", "name\n1 , 2\n3 ; 4\n");
  try {
    read_helen_file(bad, "/");
    FAIL() << "no error";
  } catch (const AnnotationError& e) {
    EXPECT_EQ(std::string(e.what()), bad.string() + ":3: expected \"x , y\", got \"3 ; 4\"");
  }
  const fs::path few = write("few.txt", "name\n1 , 2\n");
  EXPECT_THROW(read_helen_file(few, "/"), AnnotationError);
}

}  // namespace
}  // namespace lddmm
