// --version of both programs: the program's version, its default model and its libraries' versions.
#pragma once

#include <string>

namespace lddmm::app {

std::string version_text(const std::string& program);

}  // namespace lddmm::app
