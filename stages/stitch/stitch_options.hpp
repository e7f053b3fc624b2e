// SPDX-License-Identifier: Apache-2.0
// Purpose: options of the stitch stage (config key `tile.stitch`) and the tile-grid geometry the
// stitcher works on.
#pragma once

namespace atrous
{

enum class StitchMode
{
    crop,  // keep each tile's core (overlap-tile strategy): exact with an exact halo
    blend, // weighted average of overlapping window predictions
};

struct StitchOptions
{
    StitchMode mode = StitchMode::crop;
};

/// The tile grid as planned by pipeline/tile_plan: tile (row, col) has the core
/// x = col * tile_size .. min((col + 1) * tile_size, image_width) (y likewise), and its window
/// covers at least the core grown by halo_px on every side, clipped to the image.
struct StitchGeometry
{
    int image_width = 0; // pixels
    int image_height = 0;
    int tile_size = 0;   // core edge in pixels (the last column/row may be smaller)
    int halo_px = 0;     // overlap on each side of a core
    int columns = 0;     // tile grid: columns = ceil(image_width / tile_size)
    int rows = 0;        // rows = ceil(image_height / tile_size)
    int channels = 0;    // C of every prediction
    bool spatial = true; // false: classifier, one C-vector per tile (output = the tile grid)
};

} // namespace atrous
