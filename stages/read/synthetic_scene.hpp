// SPDX-License-Identifier: Apache-2.0
// Purpose: a deterministic synthetic microscopy-like scene (nuclei-like blobs) written as a
// georeferenced GeoTIFF with its ground-truth mask: input of the demo, the tests and benchmarks.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

namespace atrous
{

enum class SceneDataType
{
    uint8,
    uint16,
    float32,
};

/// A rectangle of nodata pixels in the scene (pixels; clipped to the image).
struct SceneRect
{
    int x = 0;
    int y = 0;
    int width = 0;
    int height = 0;
};

struct SyntheticSceneOptions
{
    int width = 1024; // pixels
    int height = 1024;
    int bands = 1; // every band carries the same blobs with a per-band gain
    SceneDataType data_type = SceneDataType::uint8;
    std::uint32_t seed = 1;
    double blob_density = 4e-4; // blobs per pixel (mean radius ~ 6..14 px)
    /// Pixels of this rectangle are set to `nodata_value`, which is recorded in the file.
    std::optional<SceneRect> nodata_region;
    double nodata_value = 0.0;
    int tile_size = 256;      // GeoTIFF internal tiling
    int rows_per_block = 256; // rows generated and written per step (bounded memory)
};

/// Writes `tif` (GTiff, tiled, deflate, EPSG:32633 UTM 33N, 0.5 m pixels) and `truth_tif` (uint8
/// 0/1, same grid) with GDAL, block of rows by block of rows. The same options give the same files'
/// pixels. Throws OutputError("read.synthetic", "<path>: ...") when a file cannot be written.
void write_synthetic_scene(const SyntheticSceneOptions& options, const std::filesystem::path& tif,
                           const std::filesystem::path& truth_tif);

} // namespace atrous
