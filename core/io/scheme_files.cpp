#include "lddmm/io/scheme_files.hpp"

#include "lddmm/io/resources.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace lddmm {

Scheme load_scheme(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw SchemeError(file.string() + ": cannot open the scheme file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_scheme(ss.str(), file.string());
}

void save_scheme(const Scheme& scheme, const std::filesystem::path& file) {
  validate(scheme, file.string());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) throw SchemeError(file.string() + ": cannot write the scheme file");
  out << scheme_to_json(scheme) << '\n';
  if (!out) throw SchemeError(file.string() + ": write failed");
}

std::filesystem::path scheme_dir() { return resource_dir() / "schemes"; }

std::vector<std::string> list_schemes() {
  std::vector<std::string> ids;
  const auto dir = scheme_dir();
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".json") ids.push_back(e.path().stem().string());
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

Scheme find_scheme(const std::string& spec) {
  namespace fs = std::filesystem;
  std::string base = spec;
  int factor = 1;
  if (const auto at = spec.rfind('@'); at != std::string::npos) {
    base = spec.substr(0, at);
    try {
      size_t used = 0;
      factor = std::stoi(spec.substr(at + 1), &used);
      if (used != spec.size() - at - 1) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
      throw SchemeError("scheme \"" + spec + "\": the density after '@' must be an integer from 1 to 32");
    }
    if (factor < 1 || factor > 32)
      throw SchemeError("scheme \"" + spec + "\": the density after '@' must be from 1 to 32");
  }
  Scheme s;
  if (fs::is_regular_file(base)) {
    s = load_scheme(base);
  } else {
    const fs::path file = scheme_dir() / (base + ".json");
    if (!fs::is_regular_file(file)) {
      std::string known;
      for (const auto& id : list_schemes()) known += (known.empty() ? "" : ", ") + id;
      throw SchemeError("unknown scheme \"" + base + "\" (known in " + scheme_dir().string() + ": " + known +
                        ")");
    }
    s = load_scheme(file);
  }
  return factor > 1 ? dense_scheme(s, factor) : s;
}

std::vector<int> mirror_partners(const Scheme& scheme) {
  if (!scheme.subset_of) return scheme.mirror;
  const Scheme parent = find_scheme(scheme.subset_of->parent);
  const auto& idx = scheme.subset_of->indices;
  for (int i : idx)
    if (i < 0 || i >= parent.num_points)
      throw SchemeError("scheme " + scheme.id + ": subset index " + std::to_string(i) +
                        " is not a point of " + parent.id + " (" + std::to_string(parent.num_points) +
                        " points)");
  std::vector<int> out(idx.size(), -1);
  for (size_t k = 0; k < idx.size(); ++k) {
    // The scheme's own entry where it is right (a point listed twice, as a lip corner on two curves,
    // keeps its curve's partner), else any point of the subset that is the parent's mirror.
    const int want = parent.mirror.at(static_cast<size_t>(idx[k]));
    const int own = scheme.mirror.at(k);
    if (idx.at(static_cast<size_t>(own)) == want) {
      out[k] = own;
      continue;
    }
    for (size_t j = 0; j < idx.size(); ++j)
      if (idx[j] == want) out[k] = static_cast<int>(j);
  }
  return out;
}

}  // namespace lddmm
