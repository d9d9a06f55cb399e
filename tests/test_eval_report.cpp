// eval's report outputs on a hand-built report: the CSV's columns and rows, the points file, the JSON's keys
// and the text's rows, each value written by hand.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "lddmm/train/eval_report.hpp"
#include "scratch_dir.hpp"

namespace lddmm {
namespace {

std::string read(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

EvalReport two_faces() {
  EvalReport r;
  r.request.models = {"m.pt"};
  r.request.boxes = "dlib";
  r.request.vs_dlib = true;
  r.names = "m.pt";
  r.calibrations = "none";
  r.use_dlib = true;
  r.missed = 1;
  r.detected = {true, false};
  r.ours.names = {"afw/a.jpg", "afw/b.jpg"};
  r.ours.nme = {0.03, 0.05};
  r.ours.summary = summarize(r.ours.nme);
  r.dlib_errors = {0.02, 0.5};
  r.dlib = summarize(r.dlib_errors);
  r.face_px = {120, 250};
  r.offset = {Eigen::RowVector2d(1, -2), Eigen::RowVector2d(0.5, 0)};
  r.dlib_offset = {Eigen::RowVector2d(3, 4), Eigen::RowVector2d(-1, 1)};
  Points a(2, 2), b(2, 2);
  a << 1, 2, 3, 4;
  b << 5, 6, 7, 8;
  r.photo_points = {a, b};
  r.dlib_points = {b, a};
  r.by_size = {{"100-150", summarize({0.03}), summarize({0.02})},
               {">= 200", summarize({0.05}), summarize({0.5})}};
  return r;
}

TEST(EvalReport, CsvHasAColumnPerQuantityAndARowPerFace) {
  const testing::ScratchDir dir;
  write_eval_csv(two_faces(), (dir / "faces.csv").string());
  EXPECT_EQ(read(dir / "faces.csv"),
            "face,nme,detected,dlib_nme,face_px,dx,dy,dlib_dx,dlib_dy\n"
            "afw/a.jpg,0.03,1,0.02,120,1,-2,3,4\n"
            "afw/b.jpg,0.05,0,0.5,250,0.5,0,-1,1\n");
}

TEST(EvalReport, PointsFileHasOursThenDlibPerFace) {
  const testing::ScratchDir dir;
  write_eval_points(two_faces(), (dir / "points.csv").string());
  EXPECT_EQ(read(dir / "points.csv"),
            "face,by,x0,y0,x1,y1\nafw/a.jpg,ours,1,2,3,4\nafw/a.jpg,dlib,5,6,7,8\n"
            "afw/b.jpg,ours,5,6,7,8\nafw/b.jpg,dlib,1,2,3,4\n");
}

TEST(EvalReport, JsonAndTextCarryTheRows) {
  const EvalReport r = two_faces();
  const std::string j = eval_json(r);
  for (const char* key : {"\"detector_missed\": 1", "\"groups_on\": \"found_faces\"",
                          "\"face_px\": \"100-150\"", "\"dlib\": {", "\"nme\": 0.04"})
    EXPECT_NE(j.find(key), std::string::npos) << key << " in " << j;
  const testing::ScratchDir dir;
  const auto path = dir / "report.txt";
  std::FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  print_eval(f, r);
  std::fclose(f);
  const std::string text = read(path);
  EXPECT_NE(text.find("dlib's detector missed 1 of 2 faces"), std::string::npos) << text;
  EXPECT_NE(text.find("  100-150             1 faces  ours  3.00 %  FR  0.00 %   dlib  2.00 %"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace lddmm
