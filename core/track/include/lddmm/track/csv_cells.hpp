// CSV cells with RFC 4180 quoting, for the files the tracker writes (landmarks, manifests).
#pragma once

#include <string>
#include <vector>

namespace lddmm {

/// A cell, quoted when it holds a comma, a quote or a line break.
std::string csv_cell(const std::string& s);
/// The cells of one line.
std::vector<std::string> csv_cells(const std::string& line);

}  // namespace lddmm
