// SPDX-License-Identifier: Apache-2.0
// Purpose: tile grids and window predictions of a known field, for the stitcher tests.
#pragma once

#include "stages/stage.hpp"
#include "stages/stitch/stitch_options.hpp"

#include <algorithm>
#include <functional>

namespace atrous::test
{

/// A grid as pipeline/run/tile_plan lays it out: cores of tile_size, windows = core + halo clipped
/// to the image, then grown bottom/right to a multiple of `stride` (beyond the image if need be).
inline StitchGeometry grid(int width, int height, int tile, int halo, int channels)
{
    StitchGeometry g;
    g.image_width = width;
    g.image_height = height;
    g.tile_size = tile;
    g.halo_px = halo;
    g.columns = (width + tile - 1) / tile;
    g.rows = (height + tile - 1) / tile;
    g.channels = channels;
    return g;
}

inline TileTask tile_task(const StitchGeometry& g, int row, int col, int stride = 4)
{
    TileTask t;
    t.row = row;
    t.col = col;
    t.id = static_cast<TileId>(row) * g.columns + col;
    t.core = {col * g.tile_size, row * g.tile_size,
              std::min(g.tile_size, g.image_width - col * g.tile_size),
              std::min(g.tile_size, g.image_height - row * g.tile_size)};
    const int x0 = std::max(0, t.core.x - g.halo_px);
    const int y0 = std::max(0, t.core.y - g.halo_px);
    const int x1 = std::min(g.image_width, t.core.x + t.core.width + g.halo_px);
    const int y1 = std::min(g.image_height, t.core.y + t.core.height + g.halo_px);
    t.window = {x0, y0, (x1 - x0 + stride - 1) / stride * stride,
                (y1 - y0 + stride - 1) / stride * stride};
    return t;
}

/// The prediction of `t` when the network sees field(c, x, y) at every image pixel; pixels beyond
/// the image get `outside` and valid 0.
inline Prediction predict(const StitchGeometry& g, const TileTask& t,
                          const std::function<float(int, int, int)>& field, float outside = -7.0f)
{
    Prediction p;
    p.task = t;
    const Window& w = t.window;
    p.probabilities = Image(ImageShape{w.height, w.width, g.channels});
    p.valid.assign(static_cast<std::size_t>(w.width) * w.height, 0);
    for (int y = 0; y < w.height; ++y)
    {
        for (int x = 0; x < w.width; ++x)
        {
            const int ix = w.x + x;
            const int iy = w.y + y;
            const bool inside = ix < g.image_width && iy < g.image_height;
            p.valid[static_cast<std::size_t>(y) * w.width + x] = inside ? 1 : 0;
            for (int c = 0; c < g.channels; ++c)
                p.probabilities.at(y, x, c) = inside ? field(c, ix, iy) : outside;
        }
    }
    return p;
}

} // namespace atrous::test
