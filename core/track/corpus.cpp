#include "lddmm/track/corpus.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <stdexcept>

#include "lddmm/track/csv_cells.hpp"
#include "lddmm/track/source.hpp"

namespace lddmm {
namespace fs = std::filesystem;

namespace {

bool is_list_file(const fs::path& p) {
  std::string ext = p.extension().string();
  for (char& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return ext == ".txt" || ext == ".list" || ext == ".lst";
}

bool hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

std::vector<CorpusVideo> list_folder(const fs::path& dir, const fs::path& skip) {
  std::vector<CorpusVideo> videos;
  std::error_code ec;
  const fs::path skip_abs = skip.empty() ? fs::path() : fs::weakly_canonical(skip, ec);
  auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) throw std::runtime_error(dir.string() + ": cannot read the folder");
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const fs::path& p = it->path();
    const bool is_dir = it->is_directory(ec);
    if (hidden(p) || (is_dir && !skip_abs.empty() && fs::weakly_canonical(p, ec) == skip_abs)) {
      if (is_dir) it.disable_recursion_pending();
      continue;
    }
    if (!is_dir && is_video_file(p.string())) videos.push_back({p, p.lexically_relative(dir)});
  }
  return videos;
}

/// A list line's name in the corpus: the path as written, without a root or "..".
fs::path relative_name(const fs::path& written) {
  fs::path r;
  for (const fs::path& part : written.lexically_normal().relative_path())
    if (part != ".." && part != ".") r /= part;
  return r;
}

std::vector<CorpusVideo> list_file(const fs::path& list) {
  std::ifstream in(list);
  if (!in) throw std::runtime_error(list.string() + ": cannot read the list");
  std::vector<CorpusVideo> videos;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const fs::path written(line);
    videos.push_back(
        {written.is_absolute() ? written : list.parent_path() / written, relative_name(written)});
  }
  return videos;
}

}  // namespace

bool is_corpus(const fs::path& input) {
  std::error_code ec;
  if (fs::is_regular_file(input, ec)) return is_list_file(input);
  if (!fs::is_directory(input, ec)) return false;
  auto it = fs::recursive_directory_iterator(input, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (!hidden(it->path()) && is_video_file(it->path().string())) return true;
  return false;
}

std::vector<CorpusVideo> list_corpus(const fs::path& input, const fs::path& skip) {
  std::vector<CorpusVideo> videos = fs::is_directory(input) ? list_folder(input, skip) : list_file(input);
  if (videos.empty()) throw std::runtime_error(input.string() + ": no videos");
  std::sort(videos.begin(), videos.end(),
            [](const CorpusVideo& a, const CorpusVideo& b) { return a.relative < b.relative; });
  for (size_t i = 1; i < videos.size(); ++i)
    if (videos[i].relative == videos[i - 1].relative)
      throw std::runtime_error(input.string() + ": " + videos[i].relative.string() + " is listed twice");
  return videos;
}

Shard parse_shard(const std::string& text) {
  static const std::regex form(R"((\d{1,6})/(\d{1,6}))");
  std::smatch m;
  if (!std::regex_match(text, m, form)) throw std::invalid_argument("--shard: expected K/N, e.g. 2/8");
  const Shard s{std::stoi(m[1]), std::stoi(m[2])};
  if (s.index < 1 || s.index > s.count) throw std::invalid_argument("--shard " + text + ": K must be 1 to N");
  return s;
}

std::optional<Shard> slurm_shard() {
  const char* id = std::getenv("SLURM_ARRAY_TASK_ID");
  const char* count = std::getenv("SLURM_ARRAY_TASK_COUNT");
  if (id == nullptr || count == nullptr) return std::nullopt;
  const char* min = std::getenv("SLURM_ARRAY_TASK_MIN");
  const int first = min != nullptr ? std::atoi(min) : 0;
  return parse_shard(std::to_string(std::atoi(id) - first + 1) + "/" + count);
}

std::vector<CorpusVideo> shard_of(const std::vector<CorpusVideo>& videos, const Shard& shard) {
  std::vector<CorpusVideo> mine;
  for (size_t i = static_cast<size_t>(shard.index - 1); i < videos.size();
       i += static_cast<size_t>(shard.count))
    mine.push_back(videos[i]);
  return mine;
}

std::string manifest_name(const std::optional<Shard>& shard) {
  if (!shard) return "manifest.csv";
  return "manifest-" + std::to_string(shard->index) + "-of-" + std::to_string(shard->count) + ".csv";
}

namespace {
constexpr const char* kManifestHeader = "video,status,frames,faces,seconds,error";
}

std::vector<ManifestRow> read_manifest(const fs::path& file) {
  std::vector<ManifestRow> rows;
  std::ifstream in(file);
  if (!in) return rows;
  std::string line;
  if (!std::getline(in, line) || line != kManifestHeader)
    throw std::runtime_error(file.string() + ":1: not a manifest (header " + kManifestHeader + ")");
  for (int number = 2; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    const std::vector<std::string> c = csv_cells(line);
    if (c.size() != 6)
      throw std::runtime_error(file.string() + ":" + std::to_string(number) + ": expected 6 values");
    try {
      rows.push_back({c[0], c[1], std::stoll(c[2]), std::stoi(c[3]), std::stod(c[4]), c[5]});
    } catch (const std::exception&) {
      throw std::runtime_error(file.string() + ":" + std::to_string(number) + ": not a manifest row");
    }
  }
  return rows;
}

void write_manifest(const fs::path& file, const std::vector<ManifestRow>& rows) {
  const fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << kManifestHeader << '\n';
    for (const ManifestRow& r : rows) {
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%.1f", r.seconds);
      out << csv_cell(r.video) << ',' << r.status << ',' << r.frames << ',' << r.faces << ',' << seconds
          << ',' << csv_cell(r.error) << '\n';
    }
    out.flush();
    if (!out) {
      out.close();
      std::error_code ignored;
      fs::remove(tmp, ignored);
      throw std::runtime_error(file.string() + ": cannot write the manifest (disk full?)");
    }
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) throw std::runtime_error(file.string() + ": cannot write the manifest (" + ec.message() + ")");
}

void set_row(std::vector<ManifestRow>& rows, const ManifestRow& row) {
  auto it = std::lower_bound(rows.begin(), rows.end(), row.video,
                             [](const ManifestRow& r, const std::string& v) { return r.video < v; });
  if (it != rows.end() && it->video == row.video)
    *it = row;
  else
    rows.insert(it, row);
}

std::vector<ManifestRow> merge_manifests(const std::vector<CorpusVideo>& videos, const fs::path& dir) {
  std::map<std::string, ManifestRow> seen;
  static const std::regex shard_file(R"(manifest(-\d+-of-\d+)?\.csv)");
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (std::regex_match(e.path().filename().string(), shard_file)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files)
    for (const ManifestRow& r : read_manifest(f)) {
      auto it = seen.find(r.video);
      if (it == seen.end() || (it->second.status != "done" && r.status == "done")) seen[r.video] = r;
    }
  std::vector<ManifestRow> rows;
  for (const CorpusVideo& v : videos) {
    auto it = seen.find(v.relative.generic_string());
    rows.push_back(it != seen.end() ? it->second
                                    : ManifestRow{v.relative.generic_string(), "missing", 0, 0, 0, ""});
  }
  return rows;
}

}  // namespace lddmm
