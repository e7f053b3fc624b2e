// SPDX-License-Identifier: Apache-2.0
// Purpose: options of the read stage (config section `input`).
#pragma once

#include <array>
#include <filesystem>
#include <optional>
#include <vector>

namespace atrous
{

/// value_out = value_in * scale + offset (mean/std in the config becomes scale = 1/std,
/// offset = -mean/std).
struct BandNormalization
{
    double scale = 1.0;
    double offset = 0.0;
};

struct ReadOptions
{
    std::filesystem::path path; // any GDAL raster (GeoTIFF, COG, VRT, ...)
    std::vector<int> bands;     // 1-based; empty = all bands
    std::vector<BandNormalization>
        normalize;                // empty = identity; one entry = every band; else one per band
    std::optional<double> nodata; // empty = the file's own (first selected band)
    /// input.normalize.preset: percentile: per band, the low/high percentiles (e.g. 2, 98) of a
    /// sample of <= 1024 x 1024 px read downsampled by GDAL (nodata and NaN/Inf left out) map to
    /// 0 and 1; computed once in prepare() and replaces `normalize`.
    std::optional<std::array<double, 2>> percentile_stretch;
    /// GDAL's block cache (process-wide) in MB; empty = sized from the tile plan
    /// (plan_gdal_cache in stages/read/gdal_cache.hpp). Config key runtime.gdal_cache_mb.
    std::optional<int> gdal_cache_mb;
};

} // namespace atrous
