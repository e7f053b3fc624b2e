// SPDX-License-Identifier: Apache-2.0
// Purpose: options of the write stage (config section `output`) and the layout of the output
// file (sizes, grid, georeferencing) the pipeline derives from the input and the model.
#pragma once

#include "stages/tile_grid.hpp"

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace atrous
{

enum class ProbabilityFormat
{
    none,
    uint8,   // round(p * 254); 255 = nodata (attributes scale_factor = 1/254, _FillValue = 255)
    float32, // as is; NaN = nodata
};

struct WriteOptions
{
    std::filesystem::path path; // the HDF5 file written
    ProbabilityFormat probabilities = ProbabilityFormat::none;
    double threshold = 0.5;              // 1-class models: mask = p >= threshold
    std::string compression = "deflate"; // "deflate" or "none"
    int compression_level = 4;           // deflate level 1..9
    /// Provenance written as attributes.
    std::string model_sha256;
    std::string config_yaml;
    /// Identity of the result (resume check): ordered (field, value) pairs, e.g.
    /// ("model.sha256", "ab12..."). Stored as the root attribute `fingerprint` (a JSON object); an
    /// existing "<path>.partial" is resumed only when every field matches.
    std::vector<std::pair<std::string, std::string>> fingerprint;
    /// Discard an existing "<path>.partial" (or a complete <path>) instead of resuming it; an
    /// existing <path> that is an atrous output of another run may be replaced.
    bool restart = false;
    /// An existing <path> that is not an atrous output (a GeoTIFF, ...) may be replaced too. Never
    /// a link, directory, device, FIFO or socket.
    bool force = false;
    /// Progress is recorded (fsync of the data, then the tile_done marks) at most this often:
    /// at the first block written this many seconds after the previous commit (or 100 times the
    /// previous commit's duration, if longer: a slow fsync is spread out to keep recording near
    /// 1 % of the time), and at the end. 0 = after every block.
    double sync_interval_s = 1.0;
};

/// What the output file holds, fixed before the first block: the run's tile grid itself (its
/// tile_size is the chunk edge of the spatial datasets; columns x rows index
/// /progress/tile_done and the classifier datasets), the model's channels and the input's
/// georeferencing.
struct OutputLayout : TileGrid
{
    int channels = 0; // C: classes of the model (1 = sigmoid mask)
    /// spatial (the grid's): /mask H x W (+ /probability C x H x W); false (classifier): /class
    /// rows x columns (+ /class_probability C x rows x columns), one cell per tile.
    std::optional<std::array<double, 6>> geotransform; // of the input image, GDAL order
    std::string crs_wkt;                               // empty when the input has none
};

} // namespace atrous
