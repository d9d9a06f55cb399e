// Scheme files: reading and writing one, and finding one by id among the installed schemes.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "lddmm/flow/scheme.hpp"

namespace lddmm {

Scheme load_scheme(const std::filesystem::path& file);
void save_scheme(const Scheme& scheme, const std::filesystem::path& file);

/// The folder that holds scheme files: $LDDMM_RESOURCES/schemes if set, else share/lddmm-face/schemes
/// beside the running program's bin/ folder, else the source tree's resources/schemes.
std::filesystem::path scheme_dir();
/// Loads a scheme by id ("300w68") from scheme_dir(), or from a path if `id_or_path` names a file.
/// Dense variants are spelled "<id>@<k>" (k - 1 points inserted between neighbours, see dense_scheme).
Scheme find_scheme(const std::string& id_or_path);
/// Ids of the scheme files in scheme_dir().
std::vector<std::string> list_schemes();

/// For each point, the point it becomes in a mirror image, or −1 where the scheme lacks it: a subset may
/// keep a point of one side only (300W-50 keeps jaw point 2 but not 14), and its "mirror" entry then
/// names the point itself. Exact for schemes that are not subsets. A subset's
/// parent is found with find_scheme.
std::vector<int> mirror_partners(const Scheme& scheme);

}  // namespace lddmm
