// SPDX-License-Identifier: Apache-2.0
// Purpose: tile-grid arithmetic and prediction checks shared by the crop and blend stitchers.
#pragma once

#include "stages/stage.hpp"
#include "stages/stitch/stitch_options.hpp"

#include <cstdint>
#include <string_view>
#include <vector>

namespace atrous::stitch
{

/// Throws atrous::Error (a pipeline bug) when the geometry is inconsistent.
void validate(std::string_view stage, const StitchGeometry& g);

/// The core of tile (row, col), clipped to the image.
inline Window core_of(const StitchGeometry& g, int row, int col)
{
    return g.core(row, col);
}

/// The tiles of the grid whose core is not done (per TileId, 0 = not done), in increasing id.
std::vector<TileId> not_done(const TileGrid& g, const std::vector<std::uint8_t>& done_cores);

/// Checks the prediction against the geometry (ids, core, window, tensor shape, valid size);
/// throws atrous::Error naming `stage` and the tile.
void check(std::string_view stage, const StitchGeometry& g, const Prediction& p);

/// The block of an all-nodata region: probabilities 0, valid 0.
OutputBlock nodata_block(const Window& region, int channels, TileId tile);

/// The block of `core` cut from predictions held as rows of `width` pixels, `channels` floats each
/// (NHWC), with `valid` flags (`width` a row), whose first pixel is image pixel (x0, y0): planar,
/// probabilities 0 where nodata. The crop stitcher cuts a window's prediction with it, the stream
/// runner its output rows.
OutputBlock core_block(const Window& core, TileId tile, int channels, const float* probabilities,
                       const std::uint8_t* valid, int width, int x0, int y0);

/// The classifier cell of tile p (region = 1 x 1 at (col, row) of the tile grid).
OutputBlock classifier_block(const StitchGeometry& g, const Prediction& p);

} // namespace atrous::stitch
