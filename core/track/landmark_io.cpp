#include "lddmm/track/landmark_io.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <regex>

#include "lddmm/core/pts_io.hpp"

namespace lddmm {
namespace fs = std::filesystem;
namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

/// A CSV cell: quoted (RFC 4180) when it holds a comma, a quote or a line break.
std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + '"';
}

/// The cells of one CSV line (RFC 4180 quoting).
std::vector<std::string> csv_cells(const std::string& line) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cells.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cells.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      cells.emplace_back();
    } else {
      cells.back() += c;
    }
  }
  return cells;
}

class CsvWriter : public LandmarkWriter {
 public:
  CsvWriter(const fs::path& file, int n, bool images) : out_(file), images_(images) {
    if (!out_) throw std::runtime_error(file.string() + ": cannot write the file");
    out_ << "frame,time,face,box_x,box_y,box_w,box_h,score,confidence";
    for (int i = 0; i < n; ++i) out_ << ",x" << i << ",y" << i;
    out_ << (images ? ",image\n" : "\n");
    out_.flush();
  }
  ~CsvWriter() override { finish(); }
  void write(const LandmarkRow& r) override {
    out_ << r.frame << ',' << num(r.time) << ',' << r.face << ',' << num(r.box.x) << ',' << num(r.box.y)
         << ',' << num(r.box.w) << ',' << num(r.box.h) << ',' << num(r.box.score) << ',' << num(r.confidence);
    for (Eigen::Index i = 0; i < r.points.rows(); ++i)
      out_ << ',' << num(r.points(i, 0)) << ',' << num(r.points(i, 1));
    if (images_) out_ << ',' << csv_cell(r.image);
    out_ << '\n';
  }
  void end_frame(int64_t, double, const std::string&) override { out_.flush(); }
  void finish() override { out_.flush(); }

 private:
  std::ofstream out_;
  bool images_;
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
                      {"confidence", std::round(r.confidence * 1e4) / 1e4},
                      {"points", std::move(pts)}});
  }
  void end_frame(int64_t frame, double time, const std::string& image) override {
    if (done_) return;
    nlohmann::json f = {{"frame", frame}, {"time", time}};
    if (!image.empty()) f["image"] = image;
    f["faces"] = faces_;
    out_ << (first_ ? "" : ",\n") << f.dump();
    first_ = false;
    faces_ = nlohmann::json::array();
    out_.flush();
  }
  void mark_partial() override { partial_ = true; }
  void finish() override {
    if (done_) return;
    done_ = true;
    out_ << (partial_ ? "\n],\"complete\":false}\n" : "\n]}\n");
    out_.flush();
  }

 private:
  std::ofstream out_;
  nlohmann::json faces_ = nlohmann::json::array();
  bool first_ = true, done_ = false, partial_ = false;
};

class PtsWriter : public LandmarkWriter {
 public:
  explicit PtsWriter(const fs::path& dir) : dir_(dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (!fs::is_directory(dir)) throw std::runtime_error(dir.string() + ": cannot create the folder");
  }
  void write(const LandmarkRow& r) override {
    // A photo's points are named after it (300-W style: the .pts beside img.jpg is img.pts).
    if (!r.image.empty()) {
      write_pts(dir_ / (fs::path(r.image).stem().string() + "_face_" + std::to_string(r.face) + ".pts"),
                r.points);
      return;
    }
    char name[64];
    std::snprintf(name, sizeof name, "frame_%06lld_face_%d.pts", static_cast<long long>(r.frame), r.face);
    write_pts(dir_ / name, r.points);
  }
  void end_frame(int64_t, double, const std::string&) override {}
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
                                                     const std::string& source, bool images) {
  switch (format) {
    case LandmarkFormat::Csv:
      return std::make_unique<CsvWriter>(target, points, images);
    case LandmarkFormat::Json:
      return std::make_unique<JsonWriter>(target, scheme_id, points, source);
    case LandmarkFormat::Pts:
      return std::make_unique<PtsWriter>(target);
  }
  throw std::invalid_argument("unknown landmark format");
}

std::vector<LandmarkRow> rows_of(const FrameResult& result, const std::string& image) {
  std::vector<LandmarkRow> rows;
  for (const FaceResult& f : result.faces) {
    LandmarkRow r;
    r.frame = result.index;
    r.time = result.time;
    r.face = f.id;
    r.box = f.box;
    r.box.score = f.score;
    r.confidence = f.confidence;
    r.points = f.points;
    r.image = image;
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
  if (!line.empty() && line.back() == '\r') line.pop_back();
  const std::string image_column = ",image";
  const bool images = line.size() > image_column.size() &&
                      line.compare(line.size() - image_column.size(), image_column.size(), image_column) == 0;
  const auto columns = static_cast<size_t>(std::count(line.begin(), line.end(), ',') + 1);
  const size_t numbers = columns - (images ? 1 : 0);
  // Files before the confidence column have 8 fixed numbers.
  const size_t fixed = line.find(",score,confidence") != std::string::npos ? 9 : 8;
  if (numbers < fixed || (numbers - fixed) % 2 != 0)
    throw LandmarkFileError(file.string() + ":1: bad header");
  std::vector<LandmarkRow> rows;
  int number = 1;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> cells = csv_cells(line);
    if (cells.size() != columns)
      throw LandmarkFileError(file.string() + ":" + std::to_string(number) + ": " +
                              std::to_string(cells.size()) + " values, the header has " +
                              std::to_string(columns));
    std::string image;
    if (images) {
      image = std::move(cells.back());
      cells.pop_back();
    }
    std::vector<double> v;
    for (const std::string& cell : cells) {
      try {
        size_t used = 0;
        v.push_back(std::stod(cell, &used));
        if (used != cell.size()) throw std::invalid_argument(cell);
      } catch (const std::exception&) {
        throw LandmarkFileError(file.string() + ":" + std::to_string(number) + ": not a number: \"" + cell +
                                "\"");
      }
    }
    LandmarkRow r;
    r.image = std::move(image);
    r.frame = static_cast<int64_t>(v[0]);
    r.time = v[1];
    r.face = static_cast<int>(v[2]);
    r.box = {v[3], v[4], v[5], v[6], v[7]};
    if (fixed == 9) r.confidence = v[8];
    const auto n = static_cast<Eigen::Index>((numbers - fixed) / 2);
    r.points.resize(n, 2);
    for (Eigen::Index i = 0; i < n; ++i) {
      r.points(i, 0) = v[fixed + 2 * static_cast<size_t>(i)];
      r.points(i, 1) = v[fixed + 1 + 2 * static_cast<size_t>(i)];
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
        r.image = f.value("image", std::string());
        const auto& b = face.at("box");
        r.box = {b.at(0).get<double>(), b.at(1).get<double>(), b.at(2).get<double>(), b.at(3).get<double>(),
                 face.at("score").get<double>()};
        r.confidence = face.value("confidence", 1.0);
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
  const std::regex frame_name(R"(frame_(\d+)_face_(\d+)\.pts)"), photo_name(R"((.+)_face_(\d+)\.pts)");
  bool photos = false;
  for (const auto& e : fs::directory_iterator(folder)) {
    std::smatch m;
    const std::string base = e.path().filename().string();
    LandmarkRow r;
    if (std::regex_match(base, m, frame_name)) {
      r.frame = std::stoll(m[1]);
    } else if (std::regex_match(base, m, photo_name)) {
      r.image = m[1];  // the image's stem: frames are numbered below in name order
      photos = true;
    } else {
      continue;
    }
    r.face = std::stoi(m[2]);
    r.points = read_pts(e.path());
    r.box = landmark_box(r.points);
    rows.push_back(std::move(r));
  }
  std::sort(rows.begin(), rows.end(), [](const LandmarkRow& a, const LandmarkRow& b) {
    return std::tie(a.image, a.frame, a.face) < std::tie(b.image, b.frame, b.face);
  });
  if (photos) {
    int64_t frame = -1;
    for (size_t i = 0; i < rows.size(); ++i)
      if (!rows[i].image.empty())
        rows[i].frame = i > 0 && rows[i].image == rows[i - 1].image ? frame : ++frame;
  }
  return rows;
}

}  // namespace lddmm
