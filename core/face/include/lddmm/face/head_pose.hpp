// Head pose from 68 landmarks: the 3D mean face (resources/face3d/mean68_3d.txt) fitted to the points by
// OpenCV's solvePnP under a pinhole camera. OpenFace 2.0's conventions: the camera frame has x right, y
// down, z away from the camera; a face looking into the camera has no rotation; the Euler angles are
// pitch, yaw, roll with R = Rx(pitch) Ry(yaw) Rz(roll).
#pragma once

#include <Eigen/Core>
#include <Eigen/Geometry>

#include <filesystem>
#include <optional>

#include "lddmm/flow/points.hpp"

namespace lddmm {

/// A pinhole camera, pixels.
struct Camera {
  double fx = 0, fy = 0, cx = 0, cy = 0;
  /// OpenFace's guess for an uncalibrated camera: f = 500 px at 640×480, scaled with the frame; the centre
  /// of the frame.
  static Camera for_frame(int width, int height);
};

struct HeadPose {
  Eigen::Vector3d translation =
      Eigen::Vector3d::Zero();  // the mean face's centre in the camera frame, millimetres
  Eigen::Vector3d rotation = Eigen::Vector3d::Zero();  // rotation vector (axis × angle), radians
  Eigen::Vector3d euler =
      Eigen::Vector3d::Zero();  // pitch, yaw, roll (OpenFace's pose_Rx, pose_Ry, pose_Rz), radians
};

/// The 68 points of a 3D face, millimetres, x right, y up, z towards the camera (the file's convention).
using Face3d = Eigen::Matrix<double, 68, 3>;

/// Reads a 68-line "x y z" file (lines starting with # are comments); throws std::runtime_error naming the
/// file on any other content.
Face3d read_face3d(const std::filesystem::path& file);
/// The shipped mean face (resource_dir()/face3d/mean68_3d.txt), read once.
const Face3d& mean_face_3d();

/// The rotation Rx(pitch) Ry(yaw) Rz(roll), and back (yaw in [-π/2, π/2]).
Eigen::Matrix3d rotation_from_euler(const Eigen::Vector3d& euler);
Eigen::Vector3d euler_from_rotation(const Eigen::Matrix3d& r);

class HeadPoseEstimator {
 public:
  HeadPoseEstimator(const Face3d& face, const Camera& camera);
  /// The pose that projects the face onto `points` (68 rows, pixels); none when the points are not 68
  /// finite points or the fit fails.
  std::optional<HeadPose> estimate(const Points& points) const;
  /// The face's 68 points under `pose`, projected (for tests and overlays).
  Points project(const HeadPose& pose) const;
  /// The 3D points `model` (mm, camera frame) projected to pixels.
  Points project_points(const HeadPose& pose, const Eigen::MatrixX3d& model) const;
  const Camera& camera() const { return camera_; }

 private:
  Eigen::Matrix<double, 68, 3> object_;  // the face in the camera frame's axes (y down, z away)
  Camera camera_;
};

}  // namespace lddmm
