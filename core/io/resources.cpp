#include "lddmm/io/resources.hpp"

#include <cstdlib>

#ifndef LDDMM_SOURCE_RESOURCES
#define LDDMM_SOURCE_RESOURCES ""
#endif
#ifndef LDDMM_INSTALL_RESOURCES
#define LDDMM_INSTALL_RESOURCES ""
#endif

namespace lddmm {

std::filesystem::path resource_dir() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("LDDMM_RESOURCES"); env != nullptr && *env != '\0') return env;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path share = exe.parent_path().parent_path() / "share" / "lddmm-face";
    if (fs::is_directory(share / "schemes", ec)) return share;
  }
  for (const char* base : {LDDMM_SOURCE_RESOURCES, LDDMM_INSTALL_RESOURCES}) {
    if (*base != '\0' && fs::is_directory(fs::path(base) / "schemes", ec)) return base;
  }
  return "resources";
}

std::filesystem::path user_guide() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = exe.parent_path().parent_path() / "share" / "doc" / "lddmm-face" / "README.md";
    if (fs::is_regular_file(installed, ec)) return installed;
  }
  if (*LDDMM_SOURCE_RESOURCES != '\0') {
    const fs::path source = fs::path(LDDMM_SOURCE_RESOURCES).parent_path() / "README.md";
    if (fs::is_regular_file(source, ec)) return source;
  }
  return {};
}

}  // namespace lddmm
