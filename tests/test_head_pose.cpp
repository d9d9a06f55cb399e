// Head pose: the 3D mean face projected under known poses by hand (a pinhole camera written out here),
// recovered by the estimator within stated tolerances, with and without pixel noise.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "lddmm/face/head_pose.hpp"
#include "lddmm/io/resources.hpp"

namespace lddmm {
namespace {

constexpr double kDeg = M_PI / 180;

// Rx(a) Ry(b) Rz(c), each written out (independent of Eigen's AngleAxis).
Eigen::Matrix3d by_hand(double a, double b, double c) {
  Eigen::Matrix3d rx, ry, rz;
  rx << 1, 0, 0, 0, std::cos(a), -std::sin(a), 0, std::sin(a), std::cos(a);
  ry << std::cos(b), 0, std::sin(b), 0, 1, 0, -std::sin(b), 0, std::cos(b);
  rz << std::cos(c), -std::sin(c), 0, std::sin(c), std::cos(c), 0, 0, 0, 1;
  return rx * ry * rz;
}

// The mean face turned by R and moved by t (camera frame: y down, z away), seen by the camera.
Points project_by_hand(const Face3d& face, const Eigen::Matrix3d& r, const Eigen::Vector3d& t,
                       const Camera& cam) {
  Points p(68, 2);
  for (int i = 0; i < 68; ++i) {
    const Eigen::Vector3d x(face(i, 0), -face(i, 1), -face(i, 2));  // the file's y up, z towards the camera
    const Eigen::Vector3d c = r * x + t;
    p(i, 0) = cam.fx * c.x() / c.z() + cam.cx;
    p(i, 1) = cam.fy * c.y() / c.z() + cam.cy;
  }
  return p;
}

TEST(HeadPose, ShippedMeanFaceHasItsDocumentedEyeDistance) {
  const Face3d& f = mean_face_3d();
  EXPECT_NEAR((f.row(36) - f.row(45)).norm(), 86.3, 0.05);
  Eigen::Index nose = 0;
  f.col(2).maxCoeff(&nose);
  EXPECT_EQ(nose, 30);  // the nose tip is nearest the camera
}

TEST(HeadPose, EulerAnglesRoundTripThroughTheRotation) {
  for (double a : {-0.6, 0.0, 0.3})
    for (double b : {-1.2, 0.2, 0.9})
      for (double c : {-0.4, 0.0, 0.5}) {
        const Eigen::Vector3d e = euler_from_rotation(by_hand(a, b, c));
        EXPECT_NEAR(e.x(), a, 1e-12);
        EXPECT_NEAR(e.y(), b, 1e-12);
        EXPECT_NEAR(e.z(), c, 1e-12);
        EXPECT_LT((rotation_from_euler({a, b, c}) - by_hand(a, b, c)).norm(), 1e-12);
      }
}

TEST(HeadPose, KnownPosesAreRecoveredExactlyWithoutNoise) {
  const Camera cam = Camera::for_frame(1280, 720);
  const HeadPoseEstimator est(mean_face_3d(), cam);
  for (const Eigen::Vector3d& e : {Eigen::Vector3d(0, 0, 0), Eigen::Vector3d(10 * kDeg, -30 * kDeg, 5 * kDeg),
                                   Eigen::Vector3d(-20 * kDeg, 45 * kDeg, -15 * kDeg)}) {
    const Eigen::Vector3d t(60, -40, 600);
    const auto pose = est.estimate(project_by_hand(mean_face_3d(), by_hand(e.x(), e.y(), e.z()), t, cam));
    ASSERT_TRUE(pose.has_value());
    EXPECT_LT((pose->euler - e).cwiseAbs().maxCoeff(), 1e-4 * kDeg) << e.transpose() / kDeg;
    EXPECT_LT((pose->translation - t).norm(), 1e-3);
  }
}

TEST(HeadPose, NoisyPointsGiveTheAngleWithinTwoDegrees) {
  // A face about 200 px wide (600 mm away at f ≈ 1330 px) with 1 px of noise per coordinate.
  const Camera cam = Camera::for_frame(1920, 1080);
  const HeadPoseEstimator est(mean_face_3d(), cam);
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0, 1);
  double worst = 0;
  for (int k = 0; k < 20; ++k) {
    const Eigen::Vector3d e(std::uniform_real_distribution<double>(-25, 25)(rng) * kDeg,
                            std::uniform_real_distribution<double>(-40, 40)(rng) * kDeg,
                            std::uniform_real_distribution<double>(-20, 20)(rng) * kDeg);
    Points p = project_by_hand(mean_face_3d(), by_hand(e.x(), e.y(), e.z()), {0, 0, 600}, cam);
    for (Eigen::Index i = 0; i < p.size(); ++i) p.data()[i] += noise(rng);
    const auto pose = est.estimate(p);
    ASSERT_TRUE(pose.has_value());
    worst = std::max(worst, (pose->euler - e).cwiseAbs().maxCoeff());
  }
  EXPECT_LT(worst, 2 * kDeg);
}

// The method's limit: another person's face, 10 % narrower and 20 % deeper than the mean, seen under known
// poses and fitted with the mean face. The bias this gives is quoted in docs/formats.md.
TEST(HeadPose, AnotherFaceShapeBiasesTheAnglesByAFewDegrees) {
  const Camera cam = Camera::for_frame(1280, 720);
  const HeadPoseEstimator est(mean_face_3d(), cam);
  Face3d other = mean_face_3d();
  other.col(0) *= 0.9;
  other.col(2) *= 1.2;
  double worst = 0, worst_z = 0;
  for (const Eigen::Vector3d& e : {Eigen::Vector3d(0, 0, 0), Eigen::Vector3d(0, 30 * kDeg, 0),
                                   Eigen::Vector3d(15 * kDeg, -20 * kDeg, 10 * kDeg)}) {
    const auto pose = est.estimate(project_by_hand(other, by_hand(e.x(), e.y(), e.z()), {0, 0, 600}, cam));
    ASSERT_TRUE(pose.has_value());
    worst = std::max(worst, (pose->euler - e).cwiseAbs().maxCoeff());
    worst_z = std::max(worst_z, std::abs(pose->translation.z() - 600) / 600);
  }
  std::printf("another face shape: angles off by up to %.1f deg, distance by %.0f %%\n", worst / kDeg,
              100 * worst_z);
  EXPECT_LT(worst, 8 * kDeg);
  EXPECT_GT(worst, 0.1 * kDeg);  // not the mean face: a bias exists
}

TEST(HeadPose, ProjectionIsTheEstimatorsInverse) {
  const HeadPoseEstimator est(mean_face_3d(), Camera::for_frame(640, 480));
  HeadPose pose{{10, 20, 700}, {0.1, -0.3, 0.05}, Eigen::Vector3d::Zero()};
  const Points p = est.project(pose);
  const auto back = est.estimate(p);
  ASSERT_TRUE(back.has_value());
  EXPECT_LT((back->rotation - pose.rotation).norm(), 1e-6);
}

TEST(HeadPose, BadPointsGiveNoPose) {
  const HeadPoseEstimator est(mean_face_3d(), Camera::for_frame(640, 480));
  EXPECT_FALSE(est.estimate(Points::Zero(5, 2)).has_value());
  Points p = est.project({{0, 0, 600}, {0, 0, 0}, Eigen::Vector3d::Zero()});
  p(3, 0) = std::nan("");
  EXPECT_FALSE(est.estimate(p).has_value());
}

TEST(HeadPose, AFileThatIsNotA3dFaceIsRefusedWithItsName) {
  const auto file = std::filesystem::temp_directory_path() / "lddmm_face3d_bad.txt";
  { std::ofstream(file) << "# c\n1 2 3\n4 5\n"; }
  try {
    read_face3d(file);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("lddmm_face3d_bad.txt:3"), std::string::npos) << e.what();
  }
  std::filesystem::remove(file);
}

}  // namespace
}  // namespace lddmm
