// SPDX-License-Identifier: Apache-2.0
// Purpose: the atrous version string, recorded in every output's provenance, and what
// `atrous --version` prints: the libraries atrous runs with, its git commit and the kernels the
// running CPU gets.
#pragma once

#include <string>
#include <string_view>

namespace atrous
{
std::string_view version();

/// The git commit atrous was built from (captured when CMake configured), "unknown" outside git.
std::string_view git_commit();

/// `atrous --version`: one line per item ("atrous 0.1.0", "commit ...", "GDAL 3.6.2", "HDF5
/// 1.10.8", "MPI Open MPI v4.1.4, ...", "TBB 2021.8", "yaml-cpp 0.7.0", "kernels conv2d ...").
std::string version_report();
} // namespace atrous
