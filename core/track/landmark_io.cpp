#include "lddmm/landmark_io.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>

#include "lddmm/pts_io.hpp"

namespace lddmm {
namespace fs = std::filesystem;
namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

class CsvWriter : public LandmarkWriter {
 public:
  CsvWriter(const fs::path& file, int n) : out_(file) {
    if (!out_) throw std::runtime_error(file.string() + ": cannot write the file");
    out_ << "frame,time,face,box_x,box_y,box_w,box_h,score";
    for (int i = 0; i < n; ++i) out_ << ",x" << i << ",y" << i;
    out_ << '\n';
    out_.flush();
  }
  ~CsvWriter() override { finish(); }
  void write(const LandmarkRow& r) override {
    out_ << r.frame << ',' << num(r.time) << ',' << r.face << ',' << num(r.box.x) << ',' << num(r.box.y)
         << ',' << num(r.box.w) << ',' << num(r.box.h) << ',' << num(r.box.score);
    for (Eigen::Index i = 0; i < r.points.rows(); ++i)
      out_ << ',' << num(r.points(i, 0)) << ',' << num(r.points(i, 1));
    out_ << '\n';
  }
  void end_frame(int64_t, double) override { out_.flush(); }
  void finish() override { out_.flush(); }

 private:
  std::ofstream out_;
};

class JsonWriter : public LandmarkWriter {
 public:
  JsonWriter(const fs::path& file, const std::string& scheme, int n, const std::string& source) : out_(file) {
    if (!out_) throw std::runtime_error(file.string() + ": cannot write the file");
    const nlohmann::json head = {{"scheme", scheme}, {"points", n}, {"source", source}};
    std::string h = head.dump();
    h.pop_back();  // reopen the object to append "frames"
    out_ << h << ",\"frames\":[\n";
    out_.flush();
  }
  ~JsonWriter() override { finish(); }
  void write(const LandmarkRow& r) override {
    nlohmann::json pts = nlohmann::json::array();
    for (Eigen::Index i = 0; i < r.points.rows(); ++i)
      pts.push_back({std::round(r.points(i, 0) * 1000) / 1000, std::round(r.points(i, 1) * 1000) / 1000});
    faces_.push_back({{"id", r.face},
                      {"box", {r.box.x, r.box.y, r.box.w, r.box.h}},
                      {"score", r.box.score},
                      {"points", std::move(pts)}});
  }
  void end_frame(int64_t frame, double time) override {
    if (done_) return;
    const nlohmann::json f = {{"frame", frame}, {"time", time}, {"faces", faces_}};
    out_ << (first_ ? "" : ",\n") << f.dump();
    first_ = false;
    faces_ = nlohmann::json::array();
    out_.flush();
  }
  void finish() override {
    if (done_) return;
    done_ = true;
    out_ << "\n]}\n";
    out_.flush();
  }

 private:
  std::ofstream out_;
  nlohmann::json faces_ = nlohmann::json::array();
  bool first_ = true, done_ = false;
};

class PtsWriter : public LandmarkWriter {
 public:
  explicit PtsWriter(const fs::path& dir) : dir_(dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (!fs::is_directory(dir)) throw std::runtime_error(dir.string() + ": cannot create the folder");
  }
  void write(const LandmarkRow& r) override {
    char name[64];
    std::snprintf(name, sizeof name, "frame_%06lld_face_%d.pts", static_cast<long long>(r.frame), r.face);
    write_pts(dir_ / name, r.points);
  }
  void end_frame(int64_t, double) override {}
  void finish() override {}

 private:
  fs::path dir_;
};

}  // namespace

LandmarkFormat parse_landmark_format(const std::string& name) {
  if (name == "csv") return LandmarkFormat::Csv;
  if (name == "json") return LandmarkFormat::Json;
  if (name == "pts") return LandmarkFormat::Pts;
  throw std::invalid_argument("unknown landmark format \"" + name + "\" (csv, json, pts)");
}

std::unique_ptr<LandmarkWriter> make_landmark_writer(LandmarkFormat format, const fs::path& target,
                                                     const std::string& scheme_id, int points,
                                                     const std::string& source) {
  switch (format) {
    case LandmarkFormat::Csv:
      return std::make_unique<CsvWriter>(target, points);
    case LandmarkFormat::Json:
      return std::make_unique<JsonWriter>(target, scheme_id, points, source);
    case LandmarkFormat::Pts:
      return std::make_unique<PtsWriter>(target);
  }
  throw std::invalid_argument("unknown landmark format");
}

std::vector<LandmarkRow> rows_of(const FrameResult& result) {
  std::vector<LandmarkRow> rows;
  for (const FaceResult& f : result.faces) {
    LandmarkRow r;
    r.frame = result.index;
    r.time = result.time;
    r.face = f.id;
    r.box = f.box;
    r.box.score = f.score;
    r.points = f.points;
    rows.push_back(std::move(r));
  }
  return rows;
}

namespace {

std::vector<LandmarkRow> read_csv(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw LandmarkFileError(file.string() + ": cannot open the file");
  std::string line;
  if (!std::getline(in, line) || line.rfind("frame,time,face", 0) != 0)
    throw LandmarkFileError(file.string() + ":1: not a landmark CSV (header frame,time,face,...)");
  const auto columns = static_cast<size_t>(std::count(line.begin(), line.end(), ',') + 1);
  if (columns < 8 || (columns - 8) % 2 != 0) throw LandmarkFileError(file.string() + ":1: bad header");
  std::vector<LandmarkRow> rows;
  int number = 1;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<double> v;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) {
      try {
        size_t used = 0;
        v.push_back(std::stod(cell, &used));
        if (used != cell.size()) throw std::invalid_argument(cell);
      } catch (const std::exception&) {
        throw LandmarkFileError(file.string() + ":" + std::to_string(number) + ": not a number: \"" + cell +
                                "\"");
      }
    }
    if (v.size() != columns)
      throw LandmarkFileError(file.string() + ":" + std::to_string(number) + ": " + std::to_string(v.size()) +
                              " values, the header has " + std::to_string(columns));
    LandmarkRow r;
    r.frame = static_cast<int64_t>(v[0]);
    r.time = v[1];
    r.face = static_cast<int>(v[2]);
    r.box = {v[3], v[4], v[5], v[6], v[7]};
    const auto n = static_cast<Eigen::Index>((columns - 8) / 2);
    r.points.resize(n, 2);
    for (Eigen::Index i = 0; i < n; ++i) {
      r.points(i, 0) = v[static_cast<size_t>(8 + 2 * i)];
      r.points(i, 1) = v[static_cast<size_t>(9 + 2 * i)];
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<LandmarkRow> read_json(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw LandmarkFileError(file.string() + ": cannot open the file");
  std::vector<LandmarkRow> rows;
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    for (const auto& f : j.at("frames")) {
      for (const auto& face : f.at("faces")) {
        LandmarkRow r;
        r.frame = f.at("frame").get<int64_t>();
        r.time = f.at("time").get<double>();
        r.face = face.at("id").get<int>();
        const auto& b = face.at("box");
        r.box = {b.at(0).get<double>(), b.at(1).get<double>(), b.at(2).get<double>(), b.at(3).get<double>(),
                 face.at("score").get<double>()};
        const auto& p = face.at("points");
        r.points.resize(static_cast<Eigen::Index>(p.size()), 2);
        for (size_t i = 0; i < p.size(); ++i) {
          r.points(static_cast<Eigen::Index>(i), 0) = p.at(i).at(0).get<double>();
          r.points(static_cast<Eigen::Index>(i), 1) = p.at(i).at(1).get<double>();
        }
        rows.push_back(std::move(r));
      }
    }
  } catch (const nlohmann::json::exception& e) {
    throw LandmarkFileError(file.string() + ": not a landmark JSON file (" + e.what() + ")");
  }
  return rows;
}

}  // namespace

std::vector<LandmarkRow> read_landmarks(const fs::path& file) {
  const std::string ext = file.extension().string();
  if (ext == ".json") return read_json(file);
  return read_csv(file);
}

std::vector<LandmarkRow> read_landmark_pts(const fs::path& folder) {
  std::vector<LandmarkRow> rows;
  if (!fs::is_directory(folder)) throw LandmarkFileError(folder.string() + ": no such folder");
  const std::regex name(R"(frame_(\d+)_face_(\d+)\.pts)");
  for (const auto& e : fs::directory_iterator(folder)) {
    std::smatch m;
    const std::string base = e.path().filename().string();
    if (!std::regex_match(base, m, name)) continue;
    LandmarkRow r;
    r.frame = std::stoll(m[1]);
    r.face = std::stoi(m[2]);
    r.points = read_pts(e.path());
    r.box = landmark_box(r.points);
    rows.push_back(std::move(r));
  }
  std::sort(rows.begin(), rows.end(), [](const LandmarkRow& a, const LandmarkRow& b) {
    return std::tie(a.frame, a.face) < std::tie(b.frame, b.face);
  });
  return rows;
}

}  // namespace lddmm
