// SPDX-License-Identifier: Apache-2.0
// Purpose: GDAL's block cache for a run, sized from the input's block layout and the tile plan,
// and the one-line description of that layout for the plan summary.
#pragma once

#include "stages/tile.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace atrous
{

struct GdalCachePlan
{
    std::int64_t bytes = 0;
    std::string why; // how the size was chosen, for the plan summary
};

/// Default: the blocks of one row of tile windows across the whole raster width, i.e.
/// (ceil(window_height / block_height) + 1) block rows x the width rounded up to whole blocks x
/// the bands decoded (every band of a pixel-interleaved file, else the selected ones) x bytes
/// per sample, + 25 %, at least 64 MB and at most 1024 MB. Tiles read row by row from one
/// dataset handle then decode each block once: the rows shared with the next row of windows
/// are still cached when it is read. `configured_mb` (runtime.gdal_cache_mb) wins when set.
GdalCachePlan plan_gdal_cache(const RasterInfo& info, int window_height,
                              std::optional<int> configured_mb);

/// Sets GDAL's block cache to plan.bytes (process-wide: GDALSetCacheMax64).
void apply_gdal_cache(const GdalCachePlan& plan);

/// "tiled 256 x 256, DEFLATE, Byte", "striped (1 row per strip), none, UInt16 x 4 bands
/// pixel-interleaved", "VRT of 256 files, the first tiled 256 x 256, DEFLATE, Byte".
std::string block_layout_text(const BlockLayout& layout);

} // namespace atrous
