#include "lddmm/face/head_pose.hpp"

#include <opencv2/calib3d.hpp>
#include <opencv2/core/eigen.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "lddmm/io/resources.hpp"

namespace lddmm {

Camera Camera::for_frame(int width, int height) {
  const double f = (500.0 * width / 640.0 + 500.0 * height / 480.0) / 2.0;
  return {f, f, width / 2.0, height / 2.0};
}

Face3d read_face3d(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error(file.string() + ": cannot read the 3D face");
  Face3d face;
  int row = 0, number = 0;
  std::string line;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    double x = 0, y = 0, z = 0;
    std::string rest;
    if (row >= 68 || !(s >> x >> y >> z) || (s >> rest) || !std::isfinite(x + y + z))
      throw std::runtime_error(file.string() + ":" + std::to_string(number) +
                               ": expected 68 lines \"x y z\"");
    face.row(row++) << x, y, z;
  }
  if (row != 68)
    throw std::runtime_error(file.string() + ": " + std::to_string(row) + " points, expected 68");
  return face;
}

const Face3d& mean_face_3d() {
  static const Face3d face = read_face3d(resource_dir() / "face3d" / "mean68_3d.txt");
  return face;
}

Eigen::Matrix3d rotation_from_euler(const Eigen::Vector3d& e) {
  return (Eigen::AngleAxisd(e.x(), Eigen::Vector3d::UnitX()) *
          Eigen::AngleAxisd(e.y(), Eigen::Vector3d::UnitY()) *
          Eigen::AngleAxisd(e.z(), Eigen::Vector3d::UnitZ()))
      .toRotationMatrix();
}

Eigen::Vector3d euler_from_rotation(const Eigen::Matrix3d& r) {
  // R = Rx(a) Ry(b) Rz(c): R(0,2) = sin b, R(1,2) = -sin a cos b, R(2,2) = cos a cos b,
  // R(0,1) = -cos b sin c, R(0,0) = cos b cos c.
  const double yaw = std::asin(std::clamp(r(0, 2), -1.0, 1.0));
  return {std::atan2(-r(1, 2), r(2, 2)), yaw, std::atan2(-r(0, 1), r(0, 0))};
}

HeadPoseEstimator::HeadPoseEstimator(const Face3d& face, const Camera& camera) : camera_(camera) {
  // The file's y up, z towards the camera → the camera's y down, z away: a half turn about x.
  object_ = face;
  object_.col(1) *= -1;
  object_.col(2) *= -1;
}

namespace {

Eigen::Matrix3d rotation_of(const Eigen::Vector3d& v) {
  const double angle = v.norm();
  return angle > 0 ? Eigen::AngleAxisd(angle, v / angle).toRotationMatrix() : Eigen::Matrix3d::Identity();
}

cv::Mat camera_matrix(const Camera& c) {
  return (cv::Mat_<double>(3, 3) << c.fx, 0, c.cx, 0, c.fy, c.cy, 0, 0, 1);
}

std::vector<cv::Point3d> cv_points(const Eigen::MatrixX3d& m) {
  std::vector<cv::Point3d> p;
  for (Eigen::Index i = 0; i < m.rows(); ++i) p.emplace_back(m(i, 0), m(i, 1), m(i, 2));
  return p;
}

}  // namespace

std::optional<HeadPose> HeadPoseEstimator::estimate(const Points& points) const {
  if (points.rows() != 68 || points.cols() != 2 || !points.allFinite()) return std::nullopt;
  std::vector<cv::Point2d> image;
  for (Eigen::Index i = 0; i < 68; ++i) image.emplace_back(points(i, 0), points(i, 1));
  cv::Mat rvec, tvec;
  try {
    if (!cv::solvePnP(cv_points(object_), image, camera_matrix(camera_), cv::noArray(), rvec, tvec, false,
                      cv::SOLVEPNP_SQPNP))
      return std::nullopt;
  } catch (const cv::Exception&) {
    return std::nullopt;
  }
  HeadPose pose;
  cv::cv2eigen(rvec, pose.rotation);
  cv::cv2eigen(tvec, pose.translation);
  if (!pose.rotation.allFinite() || !pose.translation.allFinite() || pose.translation.z() <= 0)
    return std::nullopt;
  pose.euler = euler_from_rotation(rotation_of(pose.rotation));
  return pose;
}

Points HeadPoseEstimator::project_points(const HeadPose& pose, const Eigen::MatrixX3d& model) const {
  const Eigen::Matrix3d r = rotation_of(pose.rotation);
  Points out(model.rows(), 2);
  for (Eigen::Index i = 0; i < model.rows(); ++i) {
    const Eigen::Vector3d c = r * model.row(i).transpose() + pose.translation;
    out(i, 0) = camera_.fx * c.x() / c.z() + camera_.cx;
    out(i, 1) = camera_.fy * c.y() / c.z() + camera_.cy;
  }
  return out;
}

Points HeadPoseEstimator::project(const HeadPose& pose) const { return project_points(pose, object_); }

}  // namespace lddmm
