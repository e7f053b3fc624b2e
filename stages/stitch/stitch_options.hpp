// SPDX-License-Identifier: Apache-2.0
// Purpose: options of the stitch stage (config key `tile.stitch`) and the tile-grid geometry the
// stitcher works on.
#pragma once

#include "stages/tile_grid.hpp"

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

/// What the stitcher works on: the run's tile grid itself (planned once by pipeline/run/tile_plan)
/// and the channels C of every prediction.
struct StitchGeometry : TileGrid
{
    int channels = 0;
};

} // namespace atrous
