#include "lddmm/io/annotations.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

namespace lddmm {
namespace {

[[noreturn]] void fail(const std::filesystem::path& file, size_t line, const std::string& what) {
  throw AnnotationError(file.string() + ":" + std::to_string(line) + ": " + what);
}

bool to_double(const std::string& s, double& out) {
  try {
    size_t used = 0;
    out = std::stod(s, &used);
    return used == s.size() && std::isfinite(out);
  } catch (const std::exception&) {
    return false;
  }
}

std::string strip_cr(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  return s;
}

}  // namespace

std::vector<Annotation> read_wflw_list(const std::filesystem::path& list, const std::filesystem::path& root) {
  std::ifstream in(list);
  if (!in) throw AnnotationError(list.string() + ": cannot open the WFLW list");
  constexpr int kPoints = 98;
  std::vector<Annotation> out;
  std::string line;
  size_t no = 0;
  while (std::getline(in, line)) {
    ++no;
    line = strip_cr(line);
    if (line.empty()) continue;
    std::istringstream ss(line);
    std::vector<std::string> tok;
    for (std::string t; ss >> t;) tok.push_back(t);
    constexpr size_t kTokens = 2 * kPoints + 4 + 6 + 1;
    if (tok.size() != kTokens)
      fail(list, no,
           "expected " + std::to_string(kTokens) + " fields (98 points, box, 6 attributes, image), got " +
               std::to_string(tok.size()));
    Annotation a;
    a.points.resize(kPoints, 2);
    std::vector<double> v(2 * kPoints + 4 + 6);
    for (size_t k = 0; k < v.size(); ++k) {
      if (!to_double(tok[k], v[k]))
        fail(list, no, "field " + std::to_string(k + 1) + " is not a number: \"" + tok[k] + "\"");
    }
    for (int p = 0; p < kPoints; ++p)
      a.points(p, 0) = v[static_cast<size_t>(2 * p)], a.points(p, 1) = v[static_cast<size_t>(2 * p + 1)];
    a.box = std::array<double, 4>{v[196], v[197], v[198], v[199]};
    for (size_t k = 200; k < 206; ++k) a.attributes.push_back(static_cast<int>(v[k]));
    a.image = root / tok.back();
    out.push_back(std::move(a));
  }
  if (out.empty()) throw AnnotationError(list.string() + ": the WFLW list is empty");
  return out;
}

Annotation read_helen_file(const std::filesystem::path& file, const std::filesystem::path& root) {
  std::ifstream in(file);
  if (!in) throw AnnotationError(file.string() + ": cannot open the HELEN annotation");
  constexpr int kPoints = 194;
  Annotation a;
  std::string line;
  size_t no = 0;
  std::string name;
  std::vector<double> xy;
  while (std::getline(in, line)) {
    ++no;
    line = strip_cr(line);
    if (line.empty()) continue;
    if (name.empty()) {
      name = line;
      continue;
    }
    const auto comma = line.find(',');
    double x = 0, y = 0;
    auto trim = [](std::string s) {
      s.erase(0, s.find_first_not_of(" \t"));
      s.erase(s.find_last_not_of(" \t") + 1);
      return s;
    };
    if (comma == std::string::npos || !to_double(trim(line.substr(0, comma)), x) ||
        !to_double(trim(line.substr(comma + 1)), y))
      fail(file, no, "expected \"x , y\", got \"" + line + "\"");
    xy.push_back(x);
    xy.push_back(y);
  }
  if (name.empty()) throw AnnotationError(file.string() + ": empty HELEN annotation");
  if (xy.size() != 2 * kPoints) fail(file, no, "expected 194 points, got " + std::to_string(xy.size() / 2));
  a.points.resize(kPoints, 2);
  std::copy(xy.begin(), xy.end(), a.points.data());
  a.image = root / (name + ".jpg");
  return a;
}

std::vector<Annotation> read_helen_folder(const std::filesystem::path& folder,
                                          const std::filesystem::path& root) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(folder, ec)) {
    if (e.path().extension() == ".txt") files.push_back(e.path());
  }
  if (ec) throw AnnotationError(folder.string() + ": cannot read the HELEN annotation folder");
  std::sort(files.begin(), files.end());
  if (files.empty()) throw AnnotationError(folder.string() + ": no .txt annotation files");
  std::vector<Annotation> out;
  for (const auto& f : files) out.push_back(read_helen_file(f, root));
  return out;
}

}  // namespace lddmm
