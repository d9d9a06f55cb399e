// Points ↔ LibTorch tensors (copies), shared by the tracker, the teaching view and the command line.
#pragma once

#include <ATen/ATen.h>

#include <algorithm>

#include "lddmm/flow/points.hpp"

namespace lddmm {

/// n×2 points as an [n, 2] float64 CPU tensor.
inline at::Tensor points_to_tensor(const Points& p) {
  return at::from_blob(const_cast<double*>(p.data()), {p.rows(), 2}, at::kDouble).clone();
}

/// Any tensor holding (x, y) pairs (shape [..., 2], any dtype or device) as n×2 points.
inline Points tensor_to_points(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kCPU, at::kDouble).contiguous().view({-1, 2});
  Points p(c.size(0), 2);
  std::copy(c.data_ptr<double>(), c.data_ptr<double>() + c.numel(), p.data());
  return p;
}

}  // namespace lddmm
