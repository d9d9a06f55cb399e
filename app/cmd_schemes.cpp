// Subcommands about schemes: list and validate them, compute mean faces, fit correspondences.
#include <cstdio>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>

#include "commands.hpp"
#include "lddmm/flow/correspondence.hpp"
#include "lddmm/flow/mean_face.hpp"
#include "lddmm/flow/scheme.hpp"
#include "lddmm/io/pts_io.hpp"
#include "lddmm/io/scheme_files.hpp"

namespace lddmm::app {

void add_schemes_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("schemes", "List the scheme files, validate them and print σ_V per curve");
  auto verbose = std::make_shared<bool>(false);
  cmd->add_flag("-v,--verbose", *verbose, "Print every curve with its σ_V");
  cmd->callback([&action, verbose] {
    action = [verbose] {
      std::printf("scheme folder: %s\n", scheme_dir().string().c_str());
      int bad = 0;
      for (const std::string& id : list_schemes()) {
        try {
          const Scheme s = find_scheme(id);
          std::printf("%-10s %4d points %3zu curves  %s%s\n", s.id.c_str(), s.num_points, s.curves.size(),
                      s.name.c_str(),
                      s.mean_face.points.rows() == 0 ? "  [no mean face]"
                      : s.mean_face.provisional      ? "  [provisional mean face]"
                                                     : "");
          if (*verbose && s.mean_face.points.rows() > 0) {
            const auto sigma = s.sigma_v();
            for (size_t c = 0; c < s.curves.size(); ++c) {
              std::printf("    %-18s %-7s %3zu pts%s  σ_V %7.2f px (%5.2f in a 64-px frame)\n",
                          s.curves[c].name.c_str(), part_name(s.curves[c].part), s.curves[c].points.size(),
                          s.curves[c].closed ? " closed" : "       ", sigma[c],
                          sigma[c] * 64.0 / s.mean_face.frame);
            }
          }
        } catch (const std::exception& e) {
          ++bad;
          std::printf("%-10s INVALID: %s\n", id.c_str(), e.what());
        }
      }
      return bad == 0 ? 0 : 1;
    };
  });
}

namespace {

struct MeanfaceOpts {
  std::string scheme, data, list, out;
  double frame = 256;
  bool write = false, derive = false, derive_mirror = false;
};

// A provisional mean face from the parent scheme through the file's derived_from table.
void derive_from_parent(Scheme& s, bool mirror) {
  if (!s.derived_from)
    throw std::runtime_error("scheme " + s.id + " has no derived_from table to derive from");
  const Scheme parent = find_scheme(s.derived_from->parent);
  s.mean_face.points = derive_mean_face(s, parent);
  s.mean_face.frame = parent.mean_face.frame;
  s.mean_face.provisional = true;
  s.mean_face.source = "provisional: derived from the " + parent.id + " mean face by the derived_from table";
  if (mirror) s.mirror = mirror_from_geometry(s.mean_face.points);
}

// The Procrustes mean of the .pts files the list names.
void mean_of_data(Scheme& s, const MeanfaceOpts& o) {
  std::string data = o.data;
  if (data.empty()) {
    const char* env = std::getenv("LDDMM_DATA");
    if (env == nullptr || *env == '\0') throw std::runtime_error("give --data or set LDDMM_DATA");
    data = (std::filesystem::path(env) / "300w").string();
  }
  if (o.list.empty()) throw std::runtime_error("give --list (for example train.txt)");
  const std::filesystem::path list =
      std::filesystem::path(o.list).is_absolute() || std::filesystem::exists(o.list)
          ? std::filesystem::path(o.list)
          : std::filesystem::path(data) / o.list;
  const auto items = read_image_list(data, list);
  std::vector<Points> shapes;
  shapes.reserve(items.size());
  for (const auto& item : items) shapes.push_back(read_pts(item.pts));
  ProcrustesMean stats;
  const std::optional<Scheme> parent =
      s.subset_of ? std::optional<Scheme>(find_scheme(s.subset_of->parent)) : std::nullopt;
  s.mean_face.points = compute_mean_face(s, shapes, o.frame, &stats, parent ? &*parent : nullptr);
  s.mean_face.frame = o.frame;
  s.mean_face.provisional = false;
  s.mean_face.source = std::string(parent ? "subset of the " + parent->id + " " : "") +
                       "Procrustes mean of " + std::to_string(shapes.size()) + " faces listed in " +
                       list.filename().string() + " (" + std::filesystem::path(data).filename().string() +
                       "), symmetrized, landmark box = frame / 1.25, centred";
  std::printf("%zu faces, %d Procrustes iterations, RMS residual %.4f (unit-size shapes)\n", shapes.size(),
              stats.iterations, stats.rms_residual);
}

int run_meanface(const MeanfaceOpts& o) {
  Scheme s = find_scheme(o.scheme);
  const std::filesystem::path file = std::filesystem::is_regular_file(o.scheme)
                                         ? std::filesystem::path(o.scheme)
                                         : scheme_dir() / (s.id + ".json");
  if (o.derive)
    derive_from_parent(s, o.derive_mirror);
  else
    mean_of_data(s, o);
  validate(s, s.id);
  const auto sigma = s.sigma_v();
  for (size_t c = 0; c < s.curves.size(); ++c) {
    std::printf("  %-18s σ_V %7.2f px (%5.2f in a 64-px frame)\n", s.curves[c].name.c_str(), sigma[c],
                sigma[c] * 64.0 / s.mean_face.frame);
  }
  if (o.write) {
    save_scheme(s, file);
    std::printf("wrote %s\n", file.string().c_str());
  }
  if (!o.out.empty()) {
    save_scheme(s, o.out);
    std::printf("wrote %s\n", o.out.c_str());
  }
  if (!o.write && o.out.empty()) std::printf("(nothing written: add --write or --out FILE)\n");
  return 0;
}

}  // namespace

void add_meanface_command(CLI::App& app, Action& action) {
  auto* cmd =
      app.add_subcommand("meanface",
                         "Compute a scheme's mean face (Procrustes mean of annotated faces), or derive a "
                         "provisional one from its parent scheme");
  auto o = std::make_shared<MeanfaceOpts>();
  cmd->add_option("-s,--scheme", o->scheme, "Scheme id or file")->required();
  cmd->add_option("-d,--data", o->data,
                  "Data folder holding the images and .pts files (or $LDDMM_DATA/300w)");
  cmd->add_option("-l,--list", o->list, "Image list, one folder/name.jpg per line, relative to --data");
  cmd->add_option("--frame", o->frame, "Side of the square crop frame of the mean face, pixels")
      ->check(CLI::Range(1.0, 100000.0));
  cmd->add_flag("--derive", o->derive,
                "Derive a provisional mean face from the parent scheme (derived_from table)");
  cmd->add_flag("--derive-mirror", o->derive_mirror,
                "With --derive: also read the mirror permutation off the symmetric mean face");
  cmd->add_flag("-w,--write", o->write, "Write the result into the scheme's own file");
  cmd->add_option("-o,--out", o->out, "Write the scheme with its new mean face to this file");
  cmd->callback([&action, o] { action = [o] { return run_meanface(*o); }; });
}

void add_correspond_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("correspond",
                                 "Fit the correspondence (affine map, curve table) between two schemes");
  auto src = std::make_shared<std::string>("300w68");
  auto dst = std::make_shared<std::string>();
  cmd->add_option("--source", *src, "Scheme whose flows carry the points")->capture_default_str();
  cmd->add_option("--target", *dst, "Scheme whose points are carried")->required();
  cmd->callback([&action, src, dst] {
    action = [src, dst] {
      const Scheme s = find_scheme(*src);
      const Scheme t = find_scheme(*dst);
      const Correspondence c = correspond(s, t);
      std::printf(
          "affine %s → %s:\n  [%8.4f %8.4f %9.3f]\n  [%8.4f %8.4f %9.3f]\nRMS distance to the carrying "
          "curves: %.3f px\n",
          t.id.c_str(), s.id.c_str(), c.target_to_source(0, 0), c.target_to_source(0, 1),
          c.target_to_source(0, 2), c.target_to_source(1, 0), c.target_to_source(1, 1),
          c.target_to_source(1, 2), c.rms_residual);
      for (size_t k = 0; k < t.curves.size(); ++k) {
        std::printf("  %-18s → %s\n", t.curves[k].name.c_str(),
                    s.curves[static_cast<size_t>(c.curve_map[k])].name.c_str());
      }
      return 0;
    };
  });
}

}  // namespace lddmm::app
