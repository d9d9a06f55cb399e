#include "lddmm/io/pts_io.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace lddmm {

namespace {
constexpr double kMaxCoordinate = 1e7;  // no image is larger; beyond it a file is damaged
}  // namespace
namespace {

std::string_view trim(std::string_view s) {
  const auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
  };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view strip_comment(std::string_view s) {
  const auto hash = s.find('#');
  const auto slashes = s.find("//");
  const auto cut = std::min(hash, slashes);
  return cut == std::string_view::npos ? s : s.substr(0, cut);
}

[[noreturn]] void fail(const std::string& origin, size_t line, const std::string& what) {
  throw PtsError(origin + ":" + std::to_string(line) + ": " + what);
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

// Parses one finite double from the whole of `tok`.
bool parse_double(std::string_view tok, double& out) {
  const std::string s(tok);
  char* end = nullptr;
  errno = 0;
  out = std::strtod(s.c_str(), &end);
  return end != s.c_str() && *end == '\0' && errno == 0 && std::isfinite(out);
}

}  // namespace

Points parse_pts(std::string_view text, const std::string& origin) {
  if (text.size() >= 3 && static_cast<unsigned char>(text[0]) == 0xEF &&
      static_cast<unsigned char>(text[1]) == 0xBB && static_cast<unsigned char>(text[2]) == 0xBF)
    text.remove_prefix(3);
  long declared = -1;
  bool in_block = false;
  bool closed = false;
  size_t closing_line = 0;
  std::vector<double> coords;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t nl = text.find('\n', pos);
    const std::string_view raw =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    const std::string_view line = trim(strip_comment(raw));
    if (line.empty()) continue;
    if (closed) fail(origin, line_no, "unexpected text after the closing '}'");
    if (!in_block) {
      if (starts_with_ci(line, "version")) continue;
      if (starts_with_ci(line, "n_points")) {
        const auto colon = line.find(':');
        const std::string_view num =
            trim(colon == std::string_view::npos ? line.substr(8) : line.substr(colon + 1));
        double v = 0;
        if (!parse_double(num, v) || v < 0 || v != std::floor(v) || v > 1e7)
          fail(origin, line_no, "n_points must be a non-negative integer, got \"" + std::string(num) + "\"");
        declared = static_cast<long>(v);
        continue;
      }
      if (line == "{") {
        in_block = true;
        continue;
      }
      fail(origin, line_no,
           "expected \"version:\", \"n_points:\" or \"{\", got \"" + std::string(line) + "\"");
    }
    if (line == "}") {
      closed = true;
      closing_line = line_no;
      continue;
    }
    std::istringstream ss{std::string(line)};
    std::string tx, ty, rest;
    ss >> tx >> ty;
    if (ss >> rest) fail(origin, line_no, "expected two numbers \"x y\", got \"" + std::string(line) + "\"");
    double x = 0, y = 0;
    if (ty.empty() || !parse_double(tx, x) || !parse_double(ty, y))
      fail(origin, line_no, "expected two numbers \"x y\", got \"" + std::string(line) + "\"");
    if (!(std::abs(x) <= kMaxCoordinate && std::abs(y) <= kMaxCoordinate))
      fail(origin, line_no, "coordinates must be finite and within ±1e7");
    coords.push_back(x);
    coords.push_back(y);
  }
  if (!in_block) fail(origin, line_no, "no '{' found: this is not a .pts file");
  if (!closed) fail(origin, line_no, "missing the closing '}'");
  const long n = static_cast<long>(coords.size() / 2);
  if (declared >= 0 && declared != n)
    fail(origin, closing_line,
         "n_points says " + std::to_string(declared) + " but " + std::to_string(n) + " points follow");
  Points out(n, 2);
  for (long i = 0; i < n; ++i) {
    out(i, 0) = coords[static_cast<size_t>(2 * i)];
    out(i, 1) = coords[static_cast<size_t>(2 * i + 1)];
  }
  return out;
}

Points read_pts(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw PtsError(file.string() + ": cannot open the file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_pts(ss.str(), file.string());
}

std::string format_pts(const Points& p) {
  std::string out = "version: 1\nn_points:  " + std::to_string(p.rows()) + "\n{\n";
  char buf[96];
  for (Eigen::Index i = 0; i < p.rows(); ++i) {
    std::snprintf(buf, sizeof buf, "%.3f %.3f\n", p(i, 0), p(i, 1));
    out += buf;
  }
  out += "}\n";
  return out;
}

void write_pts(const std::filesystem::path& file, const Points& p) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) throw PtsError(file.string() + ": cannot write the file");
  out << format_pts(p);
  out.flush();
  if (!out) throw PtsError(file.string() + ": write failed");
}

std::vector<LabelledImage> read_image_list(const std::filesystem::path& root,
                                           const std::filesystem::path& list) {
  std::ifstream in(list);
  if (!in) throw PtsError(list.string() + ": cannot open the image list");
  std::vector<LabelledImage> items;
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const std::string_view t = trim(line);
    if (t.empty() || t.front() == '#') continue;
    LabelledImage item;
    item.image = root / std::string(t);
    item.pts = item.image;
    item.pts.replace_extension(".pts");
    items.push_back(std::move(item));
  }
  if (items.empty()) throw PtsError(list.string() + ": the image list is empty");
  return items;
}

}  // namespace lddmm
