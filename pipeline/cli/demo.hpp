// SPDX-License-Identifier: Apache-2.0
// Purpose: `atrous demo`: a synthetic georeferenced scene segmented with the default config.
#pragma once

#include "pipeline/run/progress.hpp"

#include <filesystem>
#include <optional>

namespace atrous
{

struct DemoOptions
{
    std::filesystem::path out = "atrous-demo"; // created if missing
    int size = 2048;                           // scene edge in pixels
    std::optional<int> threads;                // runtime.threads override
};

/// Where `demo` finds configs/demo.yaml and models/demo.h5, first match wins: $ATROUS_DATA_DIR;
/// <prefix>/share/atrous beside an installed binary (<prefix>/bin/atrous, found through
/// /proc/self/exe, so an installed tree can be moved); the source tree the binary was built from.
std::filesystem::path data_dir();

/// Writes <out>/scene.tif and <out>/truth.tif, runs configs/demo.yaml on the scene with
/// models/demo.h5 (or a clearly labelled placeholder model with random weights when it does not
/// exist) into <out>/mask.h5, and prints where everything is. Throws like Runner::run.
void run_demo(const DemoOptions& options, spdlog::logger& log, LogFormat format);

} // namespace atrous
