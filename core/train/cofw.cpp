#include "lddmm/train/cofw.hpp"

#include <matio.h>

#include <opencv2/imgproc.hpp>

#include <memory>

namespace lddmm {
namespace {

struct MatFile {
  mat_t* mat = nullptr;
  ~MatFile() {
    if (mat) Mat_Close(mat);
  }
};
struct Var {
  matvar_t* v = nullptr;
  ~Var() {
    if (v) Mat_VarFree(v);
  }
};

std::string shape(const matvar_t* v) {
  std::string s;
  for (int r = 0; r < v->rank; ++r) s += (r ? "×" : "") + std::to_string(v->dims[r]);
  return s;
}

// A double matrix (any numeric class is converted) as row-major values [rows][cols].
std::vector<double> numeric(const matvar_t* v, const std::string& what, size_t& rows, size_t& cols) {
  if (v->rank != 2 || v->isComplex) throw CofwError(what + ": expected a real matrix, got " + shape(v));
  rows = v->dims[0];
  cols = v->dims[1];
  std::vector<double> out(rows * cols);
  auto fill = [&](auto* data) {
    for (size_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < cols; ++c) out[r * cols + c] = static_cast<double>(data[r + rows * c]);
  };
  switch (v->class_type) {
    case MAT_C_DOUBLE:
      fill(static_cast<const double*>(v->data));
      break;
    case MAT_C_SINGLE:
      fill(static_cast<const float*>(v->data));
      break;
    case MAT_C_UINT8:
      fill(static_cast<const uint8_t*>(v->data));
      break;
    case MAT_C_INT32:
      fill(static_cast<const int32_t*>(v->data));
      break;
    default:
      throw CofwError(what + ": unsupported numeric class");
  }
  return out;
}

cv::Mat image_of(const matvar_t* v, const std::string& what) {
  if (v == nullptr || v->class_type != MAT_C_UINT8 || (v->rank != 2 && v->rank != 3))
    throw CofwError(what + ": expected a uint8 image");
  const int h = static_cast<int>(v->dims[0]), w = static_cast<int>(v->dims[1]);
  const int ch = v->rank == 3 ? static_cast<int>(v->dims[2]) : 1;
  if (ch != 1 && ch != 3) throw CofwError(what + ": " + std::to_string(ch) + " channels");
  const auto* d = static_cast<const uint8_t*>(v->data);
  cv::Mat out(h, w, CV_8UC3);
  // MATLAB stores column-major: element (r, c, k) at r + h·(c + w·k); channels are RGB.
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < w; ++c) {
      cv::Vec3b& p = out.at<cv::Vec3b>(r, c);
      for (int k = 0; k < 3; ++k) {
        const int src = ch == 1 ? 0 : k;
        p[2 - k] = d[static_cast<size_t>(r) +
                     static_cast<size_t>(h) * (static_cast<size_t>(c) + static_cast<size_t>(w) * src)];
      }
    }
  return out;
}

}  // namespace

std::vector<CofwFace> read_cofw(const std::filesystem::path& file) {
  const std::string name = file.string();
  if (!std::filesystem::exists(file)) throw CofwError(name + ": no such file");
  MatFile mf;
  mf.mat = Mat_Open(name.c_str(), MAT_ACC_RDONLY);
  if (!mf.mat) throw CofwError(name + ": not a MATLAB .mat file (or damaged)");
  std::string suffix;
  for (const char* s : {"Tr", "T"}) {
    Var probe;
    probe.v = Mat_VarReadInfo(mf.mat, ("phis" + std::string(s)).c_str());
    if (probe.v) {
      suffix = s;
      break;
    }
  }
  if (suffix.empty()) throw CofwError(name + ": no phisTr or phisT variable: not a COFW file");
  Var images, phis, boxes;
  images.v = Mat_VarRead(mf.mat, ("Is" + suffix).c_str());
  phis.v = Mat_VarRead(mf.mat, ("phis" + suffix).c_str());
  boxes.v = Mat_VarRead(mf.mat, ("bboxes" + suffix).c_str());
  if (!images.v || images.v->class_type != MAT_C_CELL)
    throw CofwError(name + ": Is" + suffix + " is missing or not a cell array");
  if (!phis.v) throw CofwError(name + ": phis" + suffix + " cannot be read");
  size_t n = 0, cols = 0;
  const std::vector<double> p = numeric(phis.v, name + ": phis" + suffix, n, cols);
  if (cols != 87)
    throw CofwError(name + ": phis" + suffix + " has " + std::to_string(cols) +
                    " columns, expected 87 (29 x, 29 y, 29 occlusion)");
  size_t cells = 1;
  for (int r = 0; r < images.v->rank; ++r) cells *= images.v->dims[r];
  if (cells != n)
    throw CofwError(name + ": " + std::to_string(cells) + " images but " + std::to_string(n) +
                    " annotations");
  std::vector<double> b;
  size_t bn = 0, bc = 0;
  if (boxes.v) {
    b = numeric(boxes.v, name + ": bboxes" + suffix, bn, bc);
    if (bn != n || bc != 4)
      throw CofwError(name + ": bboxes" + suffix + " is " + shape(boxes.v) + ", expected " +
                      std::to_string(n) + "×4");
  }
  std::vector<CofwFace> faces(n);
  for (size_t i = 0; i < n; ++i) {
    CofwFace& f = faces[i];
    f.image =
        image_of(Mat_VarGetCell(images.v, static_cast<int>(i)), name + ": image " + std::to_string(i + 1));
    f.points.resize(29, 2);
    f.occluded.resize(29);
    for (int k = 0; k < 29; ++k) {
      f.points(k, 0) = p[i * 87 + static_cast<size_t>(k)] - 1.0;  // MATLAB pixels start at 1
      f.points(k, 1) = p[i * 87 + 29 + static_cast<size_t>(k)] - 1.0;
      f.occluded[static_cast<size_t>(k)] = p[i * 87 + 58 + static_cast<size_t>(k)] > 0.5;
    }
    f.box = boxes.v ? Box{b[i * 4] - 1.0, b[i * 4 + 1] - 1.0, b[i * 4 + 2], b[i * 4 + 3], 0}
                    : landmark_box(f.points);
  }
  return faces;
}

}  // namespace lddmm
