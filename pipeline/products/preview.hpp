// SPDX-License-Identifier: Apache-2.0
// Purpose: the quick-look PNG of a run: the input downsampled and stretched, the mask overlaid.
#pragma once

#include <filesystem>
#include <string>

namespace spdlog
{
class logger;
}

namespace atrous
{

struct PreviewOptions
{
    std::filesystem::path output; // an atrous HDF5 output
    std::filesystem::path png;    // empty: "<output stem>.png" next to the output
    /// The input raster; empty: input.path of the output's config_yaml attribute. When it cannot
    /// be opened, the preview shows the mask only.
    std::filesystem::path input;
    int max_side = 1024; // long side of the PNG in pixels (never upsampled)
    /// Draw an incomplete output (tiles_done < tiles_total) too; else InputError.
    bool allow_partial = false;
};

struct PreviewResult
{
    std::filesystem::path png;
    int width = 0;
    int height = 0;
    bool with_image = false; // false: the input was not available, mask only
};

/// The PNG's path for an output: "<dir>/<stem>.png".
std::filesystem::path default_preview_path(const std::filesystem::path& output);

/// Writes an RGB PNG of at most max_side px on its long side: the input's first band (or bands
/// 1-3 when it has 3 or more) read downsampled by GDAL (RasterIO into a small buffer, never the
/// whole image), stretched from its 2nd to 98th percentile; mask classes >= 1 overlaid in a
/// translucent colour (class 1 red, then green, blue, ...), nodata darkened. The mask is read from
/// the HDF5 file in strips of rows. Without the input: classes on grey, nodata black. Written as
/// "<png>.partial" and renamed (stages/write/safe_file.hpp: never through a link, only over a
/// regular file). Only regular files are opened (a FIFO named in config_yaml would block).
/// Throws InputError (the HDF5 file; an incomplete one unless allow_partial), ConfigError (the PNG
/// would be the output or the input raster), OutputError (the PNG).
PreviewResult write_preview(const PreviewOptions& options, spdlog::logger& log);

} // namespace atrous
