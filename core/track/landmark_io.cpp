#include "lddmm/track/landmark_io.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>

#include "lddmm/io/pts_io.hpp"
#include "lddmm/track/csv_cells.hpp"

namespace lddmm {
namespace fs = std::filesystem;
namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

/// Throws when a stream could not write (a full disk, a lost mount): a file must never look whole when
/// it is not.
void check_written(const std::ostream& out, const fs::path& file) {
  if (!out) throw std::runtime_error(file.string() + ": write failed (disk full?)");
}

std::string num(double v, int decimals) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

/// OpenFace 2.0's columns, the scheme's points, then ours.
std::string openface_header(int n, bool images) {
  std::string h =
      "frame,face_id,timestamp,confidence,success,pose_Tx,pose_Ty,pose_Tz,pose_Rx,pose_Ry,pose_Rz";
  for (const char* axis : {"x_", "y_"})
    for (int i = 0; i < n; ++i) h += "," + (axis + std::to_string(i));
  h += ",box_x,box_y,box_w,box_h,detector_score";
  return h + (images ? ",image\n" : "\n");
}

class CsvWriter : public LandmarkWriter {
 public:
  CsvWriter(const fs::path& file, int n, bool images) : out_(file), file_(file), n_(n), images_(images) {
    if (!out_) throw std::runtime_error(file.string() + ": cannot write the file");
    out_ << openface_header(n, images);
    out_.flush();
  }
  ~CsvWriter() override { out_.flush(); }
  void write(const LandmarkRow& r) override {
    out_ << r.frame + 1 << ',' << r.face << ',' << num(r.time) << ',' << num(r.confidence) << ",1";
    if (r.pose) {
      for (int i = 0; i < 3; ++i) out_ << ',' << num(r.pose->translation[i], 1);
      for (int i = 0; i < 3; ++i) out_ << ',' << num(r.pose->euler[i], 4);
    } else {
      out_ << ",,,,,,";
    }
    for (int axis = 0; axis < 2; ++axis)
      for (Eigen::Index i = 0; i < r.points.rows(); ++i) out_ << ',' << num(r.points(i, axis));
    out_ << ',' << num(r.box.x) << ',' << num(r.box.y) << ',' << num(r.box.w) << ',' << num(r.box.h) << ','
         << num(r.box.score);
    if (images_) out_ << ',' << csv_cell(r.image);
    out_ << '\n';
    ++rows_in_frame_;
  }
  // A frame without a face still gets its row: face 0, success 0, no numbers.
  void end_frame(int64_t frame, double time, const std::string& image) override {
    if (rows_in_frame_ == 0) {
      out_ << frame + 1 << ",0," << num(time) << ",0,0"
           << std::string(6 + 2 * static_cast<size_t>(n_) + 5, ',');
      if (images_) out_ << ',' << csv_cell(image);
      out_ << '\n';
    }
    rows_in_frame_ = 0;
    out_.flush();
    check_written(out_, file_);
  }
  void finish() override {
    out_.flush();
    check_written(out_, file_);
  }

 private:
  std::ofstream out_;
  fs::path file_;
  int n_;
  bool images_;
  int rows_in_frame_ = 0;
};

using ojson = nlohmann::ordered_json;  // JSON Lines records keep their fields in the documented order

ojson rounded(const Points& p) {
  ojson a = ojson::array();
  for (Eigen::Index i = 0; i < p.rows(); ++i)
    a.push_back({std::round(p(i, 0) * 1000) / 1000, std::round(p(i, 1) * 1000) / 1000});
  return a;
}

ojson vec3(const Eigen::Vector3d& v, double scale) {
  return {std::round(v.x() * scale) / scale, std::round(v.y() * scale) / scale,
          std::round(v.z() * scale) / scale};
}

ojson face_record(const LandmarkRow& r) {
  ojson f = {{"face_id", r.face},
             {"confidence", std::round(r.confidence * 1e4) / 1e4},
             {"box", {r.box.x, r.box.y, r.box.w, r.box.h}},
             {"detector_score", std::round(r.box.score * 1e4) / 1e4},
             {"points", rounded(r.points)}};
  if (r.pose)
    f["pose"] = {{"translation", vec3(r.pose->translation, 10)},
                 {"rotation", vec3(r.pose->rotation, 1e5)},
                 {"euler", vec3(r.pose->euler, 1e5)}};
  if (r.momenta.rows() > 0)
    f["momenta"] = {{"points", rounded(r.template_points)}, {"vectors", rounded(r.momenta)}};
  return f;
}

/// JSON Lines: a header record, one record per frame, an end record; every line a whole JSON value, so a
/// file cut anywhere is valid up to its last complete line.
class JsonlWriter : public LandmarkWriter {
 public:
  JsonlWriter(const fs::path& file, const LandmarkHeader& h) : out_(file), file_(file) {
    if (!out_) throw std::runtime_error(file.string() + ": cannot write the file");
    ojson head = {{"type", "header"}, {"format", "lddmm-face-landmarks"}, {"format_version", 1}};
    if (!h.jsonl_header.empty()) {
      const ojson more = ojson::parse(h.jsonl_header);
      for (const auto& [key, value] : more.items()) head[key] = value;
    }
    if (!head.contains("scheme")) head["scheme"] = {{"id", h.scheme_id}, {"points", h.points}};
    if (!head.contains("input")) head["input"] = {{"path", h.source}};
    out_ << head.dump() << '\n';
    out_.flush();
  }
  ~JsonlWriter() override {
    try {
      finish();
    } catch (const std::exception&) {  // a full disk: the file keeps its partial name, the run said why
    }
  }
  void write(const LandmarkRow& r) override { faces_.push_back(face_record(r)); }
  void end_frame(int64_t frame, double time, const std::string& image) override {
    if (done_) return;
    ojson f = {{"type", "frame"}, {"frame", frame + 1}, {"timestamp", std::round(time * 1e6) / 1e6}};
    if (!image.empty()) f["image"] = image;
    f["faces"] = std::move(faces_);
    out_ << f.dump() << '\n';
    faces_ = ojson::array();
    ++frames_;
    out_.flush();
    check_written(out_, file_);
  }
  void mark_partial() override { partial_ = true; }
  void finish() override {
    if (done_) return;
    done_ = true;
    out_ << ojson{{"type", "end"}, {"complete", !partial_}, {"frames", frames_}}.dump() << '\n';
    out_.flush();
    check_written(out_, file_);
  }

 private:
  std::ofstream out_;
  fs::path file_;
  ojson faces_ = ojson::array();
  int64_t frames_ = 0;
  bool done_ = false, partial_ = false;
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
  if (name == "jsonl") return LandmarkFormat::Jsonl;
  if (name == "json") return LandmarkFormat::Json;
  if (name == "pts") return LandmarkFormat::Pts;
  throw std::invalid_argument("unknown landmark format \"" + name + "\" (csv, jsonl, json, pts)");
}

std::optional<LandmarkFormat> landmark_format_of(const fs::path& file) {
  const std::string ext = file.extension().string();
  if (ext == ".csv") return LandmarkFormat::Csv;
  if (ext == ".jsonl") return LandmarkFormat::Jsonl;
  if (ext == ".json") return LandmarkFormat::Json;
  return std::nullopt;
}

std::unique_ptr<LandmarkWriter> make_landmark_writer(LandmarkFormat format, const fs::path& target,
                                                     const LandmarkHeader& h) {
  switch (format) {
    case LandmarkFormat::Csv:
      return std::make_unique<CsvWriter>(target, h.points, h.images);
    case LandmarkFormat::Jsonl:
      return std::make_unique<JsonlWriter>(target, h);
    case LandmarkFormat::Json:
      return std::make_unique<JsonWriter>(target, h.scheme_id, h.points, h.source);
    case LandmarkFormat::Pts:
      return std::make_unique<PtsWriter>(target);
  }
  throw std::invalid_argument("unknown landmark format");
}

std::unique_ptr<LandmarkWriter> make_landmark_writer(LandmarkFormat format, const fs::path& target,
                                                     const std::string& scheme_id, int points,
                                                     const std::string& source, bool images) {
  return make_landmark_writer(format, target, LandmarkHeader{scheme_id, points, source, images, ""});
}

std::vector<LandmarkRow> rows_of(const FrameResult& result, const std::string& image,
                                 const RowExtras& extras) {
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
    if (extras.pose != nullptr) r.pose = extras.pose->estimate(extras.pose_from_raw ? f.raw : f.points);
    if (extras.momenta && f.flow) {
      r.template_points = f.flow->template_points;
      r.momenta = f.flow->momenta;
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

namespace {

/// The cells of a CSV line as numbers; an empty cell is NaN. Errors name the file and line.
std::vector<double> csv_numbers(const std::vector<std::string>& cells, const fs::path& file, int number) {
  std::vector<double> v;
  for (const std::string& cell : cells) {
    if (cell.empty()) {
      v.push_back(std::nan(""));
      continue;
    }
    try {
      size_t used = 0;
      v.push_back(std::stod(cell, &used));
      if (used != cell.size()) throw std::invalid_argument(cell);
    } catch (const std::exception&) {
      throw LandmarkFileError(file.string() + ":" + std::to_string(number) + ": not a number: \"" + cell +
                              "\"");
    }
  }
  return v;
}

/// A frame number or face id: a whole number of a sane size (else the file is refused, never cast blindly).
int64_t whole_number(double v, const fs::path& file, int number, const char* what) {
  if (!(std::abs(v) < 1e12) || v != std::floor(v))
    throw LandmarkFileError(file.string() + ":" + std::to_string(number) + ": " + what +
                            " is not a whole number");
  return static_cast<int64_t>(v);
}

/// The columns of an OpenFace-layout header: name → place; the point count from x_0 … x_{N-1}.
struct OpenFaceColumns {
  std::map<std::string, size_t> at;
  size_t count = 0;
  int points = 0;
  size_t operator()(const std::string& name) const { return at.at(name); }
};

OpenFaceColumns openface_columns(const std::string& header, const fs::path& file) {
  OpenFaceColumns c;
  const std::vector<std::string> names = csv_cells(header);
  c.count = names.size();
  for (size_t i = 0; i < names.size(); ++i) c.at[names[i]] = i;
  while (c.at.count("x_" + std::to_string(c.points)) != 0 && c.at.count("y_" + std::to_string(c.points)) != 0)
    ++c.points;
  for (const char* need : {"frame", "face_id", "timestamp", "confidence", "success", "box_x", "box_y",
                           "box_w", "box_h", "detector_score", "pose_Tx", "pose_Rz"})
    if (c.at.count(need) == 0)
      throw LandmarkFileError(file.string() + ":1: bad header (no column " + need + ")");
  return c;
}

LandmarkRow openface_row(const std::vector<double>& v, const OpenFaceColumns& c, const fs::path& file,
                         int number) {
  LandmarkRow r;
  r.frame = whole_number(v[c("frame")], file, number, "frame") - 1;
  r.time = v[c("timestamp")];
  r.face = static_cast<int>(
      std::clamp<int64_t>(whole_number(v[c("face_id")], file, number, "face_id"), -1000000, 1000000));
  r.confidence = v[c("confidence")];
  r.box = {v[c("box_x")], v[c("box_y")], v[c("box_w")], v[c("box_h")], v[c("detector_score")]};
  const Eigen::Vector3d t(v[c("pose_Tx")], v[c("pose_Ty")], v[c("pose_Tz")]),
      e(v[c("pose_Rx")], v[c("pose_Ry")], v[c("pose_Rz")]);
  if (t.allFinite() && e.allFinite()) {
    const Eigen::AngleAxisd a(rotation_from_euler(e));
    r.pose = HeadPose{t, a.axis() * a.angle(), e};
  }
  r.points.resize(c.points, 2);
  for (int i = 0; i < c.points; ++i) {
    r.points(i, 0) = v[c("x_" + std::to_string(i))];
    r.points(i, 1) = v[c("y_" + std::to_string(i))];
  }
  return r;
}

/// Every data line of a CSV after its header, as cells with the line's number (blank lines skipped, CRLF
/// accepted); a line with another cell count than the header's is an error naming the file and line.
template <typename Row>
void for_each_csv_row(std::istream& in, const fs::path& file, size_t columns, Row&& row) {
  std::string line;
  for (int number = 2; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> cells = csv_cells(line);
    if (cells.size() != columns)
      throw LandmarkFileError(file.string() + ":" + std::to_string(number) + ": " +
                              std::to_string(cells.size()) + " values, the header has " +
                              std::to_string(columns));
    row(cells, number);
  }
}

std::vector<LandmarkRow> read_openface_csv(std::istream& in, const std::string& header,
                                           const fs::path& file) {
  const OpenFaceColumns c = openface_columns(header, file);
  const bool images = c.at.count("image") != 0;
  std::vector<LandmarkRow> rows;
  for_each_csv_row(in, file, c.count, [&](std::vector<std::string>& cells, int number) {
    std::string image;
    if (images) std::swap(image, cells[c("image")]);
    const std::vector<double> v = csv_numbers(cells, file, number);
    if (!(v[c("success")] == 1)) return;  // a frame without a face
    rows.push_back(openface_row(v, c, file, number));
    rows.back().image = std::move(image);
  });
  return rows;
}

std::vector<LandmarkRow> read_csv(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw LandmarkFileError(file.string() + ": cannot open the file");
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.rfind("frame,face_id,", 0) == 0) return read_openface_csv(in, line, file);
  // Files of version 0.1 and earlier: frame,time,face,box…,score[,confidence],x0,y0,…
  if (line.rfind("frame,time,face", 0) != 0)
    throw LandmarkFileError(file.string() + ":1: not a landmark CSV (header frame,face_id,...)");
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
  for_each_csv_row(in, file, columns, [&](std::vector<std::string>& cells, int number) {
    std::string image;
    if (images) {
      image = std::move(cells.back());
      cells.pop_back();
    }
    const std::vector<double> v = csv_numbers(cells, file, number);
    LandmarkRow r;
    r.image = std::move(image);
    r.frame = whole_number(v[0], file, number, "frame");
    r.time = v[1];
    r.face =
        static_cast<int>(std::clamp<int64_t>(whole_number(v[2], file, number, "face"), -1000000, 1000000));
    r.box = {v[3], v[4], v[5], v[6], v[7]};
    if (fixed == 9) r.confidence = v[8];
    const auto n = static_cast<Eigen::Index>((numbers - fixed) / 2);
    r.points.resize(n, 2);
    for (Eigen::Index i = 0; i < n; ++i) {
      r.points(i, 0) = v[fixed + 2 * static_cast<size_t>(i)];
      r.points(i, 1) = v[fixed + 1 + 2 * static_cast<size_t>(i)];
    }
    rows.push_back(std::move(r));
  });
  return rows;
}

/// A frame number or face id field: an integer of a sane size (nlohmann converts floats to integers with
/// undefined behaviour); else a LandmarkFileError naming the file.
int64_t integer_field(const nlohmann::json& j, const char* key, const fs::path& file) {
  const nlohmann::json& v = j.at(key);
  if (!v.is_number_integer() || v.get<int64_t>() < -1000000000000 || v.get<int64_t>() > 1000000000000)
    throw LandmarkFileError(file.string() + ": \"" + key + "\" is not an integer of a sane size");
  return v.get<int64_t>();
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
        r.frame = integer_field(f, "frame", file);
        r.time = f.at("time").get<double>();
        r.face = static_cast<int>(std::clamp<int64_t>(integer_field(face, "id", file), -1000000, 1000000));
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

LandmarkRow jsonl_face(const nlohmann::json& f, const nlohmann::json& face, const fs::path& file) {
  LandmarkRow r;
  r.frame = integer_field(f, "frame", file) - 1;
  r.time = f.at("timestamp").get<double>();
  r.image = f.value("image", std::string());
  r.face = static_cast<int>(std::clamp<int64_t>(integer_field(face, "face_id", file), -1000000, 1000000));
  r.confidence = face.at("confidence").get<double>();
  const auto& b = face.at("box");
  r.box = {b.at(0).get<double>(), b.at(1).get<double>(), b.at(2).get<double>(), b.at(3).get<double>(),
           face.at("detector_score").get<double>()};
  const auto& p = face.at("points");
  r.points.resize(static_cast<Eigen::Index>(p.size()), 2);
  for (size_t i = 0; i < p.size(); ++i)
    for (size_t k = 0; k < 2; ++k)
      r.points(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(k)) = p.at(i).at(k);
  if (face.contains("pose")) {
    const auto v3 = [](const nlohmann::json& a) {
      return Eigen::Vector3d(a.at(0).get<double>(), a.at(1).get<double>(), a.at(2).get<double>());
    };
    const auto& q = face.at("pose");
    r.pose = HeadPose{v3(q.at("translation")), v3(q.at("rotation")), v3(q.at("euler"))};
  }
  return r;
}

/// Every frame record up to the last whole line (a cut last line is what a killed run leaves).
std::vector<LandmarkRow> read_jsonl(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw LandmarkFileError(file.string() + ": cannot open the file");
  std::vector<LandmarkRow> rows;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    try {
      const nlohmann::json j = nlohmann::json::parse(line);
      if (number == 1 && j.value("type", "") != "header")
        throw LandmarkFileError(file.string() + ":1: not a landmark JSON Lines file (no header record)");
      if (j.value("type", "") != "frame") continue;
      for (const auto& face : j.at("faces")) rows.push_back(jsonl_face(j, face, file));
    } catch (const nlohmann::json::exception& e) {
      if (in.peek() == std::char_traits<char>::eof()) break;  // the last line, cut short
      throw LandmarkFileError(file.string() + ":" + std::to_string(number) + ": " + e.what());
    }
  }
  return rows;
}

}  // namespace

std::vector<LandmarkRow> read_landmarks(const fs::path& file) {
  const std::string ext = file.extension().string();
  if (ext == ".json") return read_json(file);
  if (ext == ".jsonl") return read_jsonl(file);
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
