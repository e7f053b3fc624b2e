// SPDX-License-Identifier: Apache-2.0
// Purpose: GDAL block cache size from the block layout and the window height; layout text.
#include "gdal_cache_plan.hpp"

#include <fmt/format.h>
#include <gdal.h>

#include <algorithm>

namespace atrous
{

namespace
{

constexpr std::int64_t mb = 1024 * 1024;
constexpr std::int64_t min_default = 64 * mb;
constexpr std::int64_t max_default = 1024 * mb;

std::int64_t div_up(std::int64_t a, std::int64_t b)
{
    return (a + b - 1) / b;
}

} // namespace

GdalCachePlan plan_gdal_cache(const RasterInfo& info, int window_height,
                              std::optional<int> configured_mb)
{
    if (configured_mb)
        return {static_cast<std::int64_t>(*configured_mb) * mb, "runtime.gdal_cache_mb"};
    const BlockLayout& l = info.layout;
    const std::int64_t bw = std::max(1, l.block_width > 0 ? l.block_width : 256);
    const std::int64_t bh = std::max(1, l.block_height > 0 ? l.block_height : 256);
    const std::int64_t rows = (div_up(std::max(1, window_height), bh) + 1) * bh;
    const std::int64_t cols = div_up(info.width, bw) * bw;
    const int bands = l.pixel_interleaved ? std::max(l.file_bands, info.bands) : info.bands;
    const std::int64_t need = rows * cols * std::max(1, bands) * std::max(1, l.bytes_per_sample);
    const std::int64_t want = need + need / 4;
    const std::int64_t bytes = std::clamp(want, min_default, max_default);
    std::string why = fmt::format("one row of windows: {} rows x {} px x {} band{} x {} B = {} MB",
                                  rows, cols, bands, bands == 1 ? "" : "s",
                                  std::max(1, l.bytes_per_sample), div_up(need, mb));
    if (want > max_default)
        why += ", capped (set runtime.gdal_cache_mb for more)";
    else if (want < min_default)
        why += ", at least 64 MB";
    return {bytes, why};
}

void apply_gdal_cache(const GdalCachePlan& plan)
{
    GDALSetCacheMax64(plan.bytes);
}

std::string block_layout_text(const BlockLayout& l)
{
    if (l.block_width <= 0)
        return "block layout unknown";
    std::string text;
    if (l.source_files > 0)
        text = fmt::format("VRT of {} file{}, the first ", l.source_files,
                           l.source_files == 1 ? "" : "s");
    if (l.tiled)
        text += fmt::format("tiled {} x {}", l.block_width, l.block_height);
    else
        text += fmt::format("striped ({} row{} per strip)", l.block_height,
                            l.block_height == 1 ? "" : "s");
    text += fmt::format(", {}, {}", l.compression.empty() ? "none" : l.compression, l.data_type);
    if (l.file_bands > 1)
        text += fmt::format(" x {} bands {}", l.file_bands,
                            l.pixel_interleaved ? "pixel-interleaved" : "band-interleaved");
    return text;
}

} // namespace atrous
