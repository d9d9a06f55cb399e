// The program's resource folder (schemes, the 3D mean face, the detector's box map).
#pragma once

#include <filesystem>

namespace lddmm {

/// `LDDMM_RESOURCES` if set; else share/lddmm-face beside an installed program's bin/; else the source
/// tree's resources/ (a program in the build tree); else "resources".
std::filesystem::path resource_dir();

/// The user's guide (README.md): share/doc/lddmm-face beside an installed program's bin/, else the source
/// tree's; empty when neither is there.
std::filesystem::path user_guide();

}  // namespace lddmm
