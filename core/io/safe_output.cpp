#include "lddmm/io/safe_output.hpp"

#include <stdexcept>
#include <system_error>

namespace lddmm {

namespace fs = std::filesystem;

bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ea, eb;
  const bool a_exists = fs::exists(a, ea), b_exists = fs::exists(b, eb);
  if (a_exists && b_exists) {
    std::error_code e;
    const bool same = fs::equivalent(a, b, e);
    if (!e) return same;
  }
  std::error_code e1, e2;
  const fs::path ca = fs::weakly_canonical(fs::absolute(a), e1),
                 cb = fs::weakly_canonical(fs::absolute(b), e2);
  return !e1 && !e2 && ca == cb;
}

void check_outputs(const std::vector<fs::path>& inputs, const std::vector<fs::path>& outputs) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    const fs::path& out = outputs[i];
    if (out.empty()) continue;
    for (const fs::path& in : inputs)
      if (!in.empty() && same_file(out, in))
        throw std::runtime_error(out.string() + ": is an input of this run; give another output path");
    for (size_t j = 0; j < i; ++j)
      if (!outputs[j].empty() && same_file(out, outputs[j]))
        throw std::runtime_error(out.string() + ": named for two outputs (" + outputs[j].string() +
                                 "); give each its own path");
  }
}

fs::path partial_path(const fs::path& out) {
  fs::path p = out;
  p.replace_filename(out.stem().string() + ".partial" + out.extension().string());
  return p;
}

void commit_partial(const fs::path& out) {
  std::error_code e;
  fs::rename(partial_path(out), out, e);
  if (e)
    throw std::runtime_error(out.string() + ": cannot rename " + partial_path(out).filename().string() +
                             " to it (" + e.message() + "); the results are in the .partial file");
}

}  // namespace lddmm
