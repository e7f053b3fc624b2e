// SPDX-License-Identifier: Apache-2.0
// Purpose: options of the read stage (config section `input`).
#pragma once

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
};

} // namespace atrous
