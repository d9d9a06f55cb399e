// A corpus of videos annotated as one job: the videos (a folder searched recursively, or a list file), a
// fixed share of them for one task of a cluster job, where each video's outputs go, and the manifest
// that records what happened to each (video, status, frames, faces, seconds, error).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace lddmm {

struct CorpusVideo {
  std::filesystem::path path;      // as it is opened
  std::filesystem::path relative;  // its name in the corpus: mirrored under the output folder
};

/// A list file (.txt, .list, .lst) or a folder with a video file somewhere under it.
bool is_corpus(const std::filesystem::path& input);
/// The videos, sorted by their relative names. A folder: every video file under it (hidden entries and
/// the output folder `skip` excluded). A list: one path per line, relative to the list's folder; blank
/// lines and lines starting with # are skipped. Throws std::runtime_error (no such list, no video).
std::vector<CorpusVideo> list_corpus(const std::filesystem::path& input,
                                     const std::filesystem::path& skip = {});

/// Task `index` (1-based) of `count`.
struct Shard {
  int index = 1, count = 1;
};
/// "K/N" with 1 ≤ K ≤ N; throws std::invalid_argument.
Shard parse_shard(const std::string& text);
/// A Slurm job array's task: SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN + 1 of SLURM_ARRAY_TASK_COUNT; none
/// outside an array.
std::optional<Shard> slurm_shard();
/// The videos of one shard: every count-th, from the index-th (fixed and disjoint for a given corpus).
std::vector<CorpusVideo> shard_of(const std::vector<CorpusVideo>& videos, const Shard& shard);
/// "manifest.csv" for a whole corpus, "manifest-K-of-N.csv" for a shard.
std::string manifest_name(const std::optional<Shard>& shard);

struct ManifestRow {
  std::string video;   // the relative name
  std::string status;  // done, failed, interrupted, missing
  int64_t frames = 0;
  int faces = 0;  // face ids seen
  double seconds = 0;
  std::string error;
};

/// The rows of a manifest file (none when it does not exist); throws std::runtime_error on a bad file.
std::vector<ManifestRow> read_manifest(const std::filesystem::path& file);
/// Writes the manifest whole under a temporary name and renames it (never half written).
void write_manifest(const std::filesystem::path& file, const std::vector<ManifestRow>& rows);
/// Replaces the row of `row.video` (or adds it), keeping the videos in order.
void set_row(std::vector<ManifestRow>& rows, const ManifestRow& row);
/// One row per corpus video from every manifest in `dir` (manifest.csv and manifest-*-of-*.csv): a done
/// row wins over others; a video no manifest lists is "missing".
std::vector<ManifestRow> merge_manifests(const std::vector<CorpusVideo>& videos,
                                         const std::filesystem::path& dir);

}  // namespace lddmm
