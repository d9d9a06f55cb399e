// COFW .mat files: fixtures written here with matio (MAT 5 and 7.3), read back by read_cofw.
#include <gtest/gtest.h>
#include <matio.h>

#include <fstream>
#include <vector>

#include "lddmm/train/cofw.hpp"
#include "scratch_dir.hpp"

namespace lddmm {
namespace {

// Two faces: a 4×6 grey image and a 3×5 colour image, column-major as MATLAB stores them.
void write_fixture(const std::filesystem::path& file, mat_ft version, const char* suffix, int columns = 87) {
  mat_t* mat = Mat_CreateVer(file.string().c_str(), nullptr, version);
  ASSERT_NE(mat, nullptr);
  size_t cell_dims[2] = {2, 1};
  matvar_t* cells =
      Mat_VarCreate((std::string("Is") + suffix).c_str(), MAT_C_CELL, MAT_T_CELL, 2, cell_dims, nullptr, 0);
  std::vector<uint8_t> grey(4 * 6, 10);
  grey[1 + 4 * 4] = 200;  // row 1, column 4
  size_t gd[2] = {4, 6};
  Mat_VarSetCell(cells, 0, Mat_VarCreate(nullptr, MAT_C_UINT8, MAT_T_UINT8, 2, gd, grey.data(), 0));
  std::vector<uint8_t> colour(3 * 5 * 3, 0);
  colour[2 + 3 * (1 + 5 * 0)] = 255;  // row 2, column 1: red
  colour[0 + 3 * (3 + 5 * 2)] = 128;  // row 0, column 3: half blue
  size_t cd[3] = {3, 5, 3};
  Mat_VarSetCell(cells, 1, Mat_VarCreate(nullptr, MAT_C_UINT8, MAT_T_UINT8, 3, cd, colour.data(), 0));
  Mat_VarWrite(mat, cells, MAT_COMPRESSION_NONE);
  Mat_VarFree(cells);
  std::vector<double> phis(2 * static_cast<size_t>(columns));
  for (int f = 0; f < 2; ++f)
    for (int j = 0; j < columns; ++j)
      phis[static_cast<size_t>(f + 2 * j)] = j < 58 ? 1 + j + 100 * f : (j % 2 == 0 ? 1 : 0);  // column-major
  size_t pd[2] = {2, static_cast<size_t>(columns)};
  matvar_t* p = Mat_VarCreate((std::string("phis") + suffix).c_str(), MAT_C_DOUBLE, MAT_T_DOUBLE, 2, pd,
                              phis.data(), 0);
  Mat_VarWrite(mat, p, MAT_COMPRESSION_NONE);
  Mat_VarFree(p);
  std::vector<double> boxes = {11, 21, 12, 22, 30, 40, 31, 41};  // column-major 2×4: x, y, w, h
  size_t bd[2] = {2, 4};
  matvar_t* b = Mat_VarCreate((std::string("bboxes") + suffix).c_str(), MAT_C_DOUBLE, MAT_T_DOUBLE, 2, bd,
                              boxes.data(), 0);
  Mat_VarWrite(mat, b, MAT_COMPRESSION_NONE);
  Mat_VarFree(b);
  Mat_Close(mat);
}

TEST(Cofw, ReadsImagesPointsOcclusionAndBoxesFromMat5AndMat73) {
  const testing::ScratchDir dir;
  for (auto [version, name, suffix] :
       {std::tuple{MAT_FT_MAT5, "train5.mat", "Tr"}, std::tuple{MAT_FT_MAT73, "test73.mat", "T"}}) {
    write_fixture(dir / name, version, suffix);
    const auto faces = read_cofw(dir / name);
    ASSERT_EQ(faces.size(), 2u) << name;
    EXPECT_EQ(faces[0].image.rows, 4);
    EXPECT_EQ(faces[0].image.cols, 6);
    EXPECT_EQ(faces[0].image.at<cv::Vec3b>(1, 4), cv::Vec3b(200, 200, 200));
    EXPECT_EQ(faces[0].image.at<cv::Vec3b>(0, 0), cv::Vec3b(10, 10, 10));
    EXPECT_EQ(faces[1].image.at<cv::Vec3b>(2, 1), cv::Vec3b(0, 0, 255));  // BGR
    EXPECT_EQ(faces[1].image.at<cv::Vec3b>(0, 3), cv::Vec3b(128, 0, 0));
    // Face 2: x_k = 101 + k, y_k = 130 + k in MATLAB's 1-based pixels, one less 0-based.
    EXPECT_DOUBLE_EQ(faces[1].points(0, 0), 100);
    EXPECT_DOUBLE_EQ(faces[1].points(28, 1), 130 + 28 - 1);
    EXPECT_EQ(faces[0].occluded[0], true);  // column 58: even
    EXPECT_EQ(faces[0].occluded[1], false);
    EXPECT_DOUBLE_EQ(faces[1].box.x, 21 - 1);  // face 2's row of the column-major 2×4 matrix
    EXPECT_DOUBLE_EQ(faces[1].box.h, 41);
  }
}

TEST(Cofw, BadFilesNameTheProblem) {
  const testing::ScratchDir dir;
  auto error_of = [](const std::filesystem::path& f) {
    try {
      read_cofw(f);
    } catch (const CofwError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error_of(dir / "absent.mat"), (dir / "absent.mat").string() + ": no such file");
  { std::ofstream(dir / "junk.mat") << "not a mat file"; }
  EXPECT_EQ(error_of(dir / "junk.mat"),
            (dir / "junk.mat").string() + ": not a MATLAB .mat file (or damaged)");
  write_fixture(dir / "wide.mat", MAT_FT_MAT5, "Tr", 88);
  EXPECT_NE(error_of(dir / "wide.mat").find("88 columns, expected 87"), std::string::npos);
}

}  // namespace
}  // namespace lddmm

#include <opencv2/imgcodecs.hpp>

#include "lddmm/flow/scheme.hpp"
#include "lddmm/io/scheme_files.hpp"
#include "lddmm/train/dataset.hpp"

namespace lddmm {
namespace {

TEST(Datasets, WflwHelenAndCofwFilesFeedTheTrainingDataset) {
  const testing::ScratchDir dir;
  cv::imwrite((dir / "face.png").string(), cv::Mat(300, 300, CV_8UC3, cv::Scalar(50, 60, 70)));
  // WFLW: one line of 98 points, a box, six attributes and the image path.
  const Scheme wflw = find_scheme("wflw98");
  const Points pw = wflw.mean_face.points * 0.5;
  {
    std::ofstream list(dir / "wflw.txt");
    list.precision(10);
    for (Eigen::Index i = 0; i < pw.rows(); ++i) list << pw(i, 0) << ' ' << pw(i, 1) << ' ';
    list << "10 10 200 200 0 0 0 0 0 0 face.png\n";
  }
  const FaceDataset a(dir.path(), dir / "wflw.txt", wflw, wflw, 200);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_LT((a.target_points(0) - pw).cwiseAbs().maxCoeff(), 1e-4);
  // HELEN: a folder of annotation files; images are root/<name>.jpg.
  const Scheme helen = find_scheme("helen194");
  const Points ph = helen.mean_face.points * 0.6;
  cv::imwrite((dir / "h1.jpg").string(), cv::Mat(300, 300, CV_8UC3, cv::Scalar(50, 60, 70)));
  std::filesystem::create_directories(dir / "helen");
  {
    std::ofstream f(dir / "helen" / "1.txt");
    f.precision(10);
    f << "h1\n";
    for (Eigen::Index i = 0; i < ph.rows(); ++i) f << ph(i, 0) << " , " << ph(i, 1) << "\n";
  }
  const FaceDataset b(dir.path(), dir / "helen", helen, helen, 200);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_LT((b.target_points(0) - ph).cwiseAbs().maxCoeff(), 1e-3);
  // COFW: the .mat file holds the images.
  write_fixture(dir / "cofw.mat", MAT_FT_MAT5, "Tr");
  const Scheme cofw = find_scheme("cofw29");
  const FaceDataset c(dir.path(), dir / "cofw.mat", cofw, cofw, 200);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_DOUBLE_EQ(c.target_points(1)(0, 0), 100);
  // The wrong scheme for the file is a clear error.
  try {
    const FaceDataset d(dir.path(), dir / "cofw.mat", find_scheme("300w68"), find_scheme("300w68"), 200);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("has 29 points, expected 68"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lddmm
