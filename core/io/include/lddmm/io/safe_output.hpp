// Outputs that never overwrite an input and are never mistaken for complete: a run's output paths are
// checked against its inputs and each other before anything is opened, and files are written under a
// `.partial` name that is renamed when they are closed.
#pragma once

#include <filesystem>
#include <vector>

namespace lddmm {

/// True when `a` and `b` name one file: the same inode (symlinks, hard links) when both exist, else the
/// same path once made absolute and normal.
bool same_file(const std::filesystem::path& a, const std::filesystem::path& b);

/// Throws std::runtime_error (one line naming the path) when an output is one of the inputs or two outputs
/// are one file. Empty paths are skipped.
void check_outputs(const std::vector<std::filesystem::path>& inputs,
                   const std::vector<std::filesystem::path>& outputs);

/// Where a file is written until it is complete: `out.csv` → `out.partial.csv` (the extension kept, so
/// that a video writer still picks the container from it).
std::filesystem::path partial_path(const std::filesystem::path& out);

/// Renames the partial file of `out` to `out` (replacing an older `out`). Throws std::runtime_error.
void commit_partial(const std::filesystem::path& out);

}  // namespace lddmm
