// SHA-256 of a file (OpenSSL), to name exactly which model made a result.
#pragma once

#include <filesystem>
#include <string>

namespace lddmm {

/// Lower-case hex; throws std::runtime_error naming the file when it cannot be read.
std::string sha256_file(const std::filesystem::path& file);

}  // namespace lddmm
