// SPDX-License-Identifier: Apache-2.0
// Purpose: the tile grid as a value: planned once (pipeline/run/tile_plan), then handed by const
// reference to the stitchers, the writer and the executors, which derive every core, window and
// blend reach from it.
#pragma once

#include "stages/tile.hpp"

#include <algorithm>
#include <utility>

namespace atrous
{

/// Tile (row, col) has the core x = col * tile_size .. min((col + 1) * tile_size, image_width)
/// (y likewise); its window is the core grown by halo_px, its far edge first rounded up to the
/// stride, clipped to the image padded bottom/right to a multiple of the stride (padded_width x
/// padded_height). Classifiers (spatial false): the cell is the model's fixed input, no halo, one
/// class per tile. Plain data: pipeline/run/tile_plan validates it against the model.
struct TileGrid
{
    int image_width = 0; // pixels
    int image_height = 0;
    int padded_width = 0; // the image padded to a multiple of the stride
    int padded_height = 0;
    int tile_size = 0;   // core edge in pixels (the last column/row may be smaller)
    int halo_px = 0;     // overlap on each side of a core (a multiple of the stride)
    int stride = 1;      // alignment of every window edge (the model's total stride)
    int columns = 0;     // columns = ceil(image_width / tile_size)
    int rows = 0;        // rows = ceil(image_height / tile_size)
    bool spatial = true; // false: classifier, one C-vector per tile (output = the tile grid)

    long long count() const { return static_cast<long long>(columns) * rows; }
    friend bool operator==(const TileGrid&, const TileGrid&) = default;

    /// The core of tile (row, col), clipped to the image.
    Window core(int row, int col) const
    {
        const int x0 = col * tile_size;
        const int y0 = row * tile_size;
        return {x0, y0, std::min(tile_size, image_width - x0),
                std::min(tile_size, image_height - y0)};
    }

    /// Tile `id` (row-major, 0 <= id < count()).
    TileTask task(TileId id) const
    {
        TileTask t;
        t.id = id;
        t.row = static_cast<int>(id / columns);
        t.col = static_cast<int>(id % columns);
        t.core = core(t.row, t.col);
        // Origins are multiples of the tile (itself a multiple of the stride) minus the halo
        // (also a multiple); the far edge is first rounded up to the stride so a clipped last core
        // still gives the network an accepted size.
        const int wx0 = std::max(0, t.core.x - halo_px);
        const int wy0 = std::max(0, t.core.y - halo_px);
        const int wx1 = std::min(round_up(t.core.x + t.core.width) + halo_px, padded_width);
        const int wy1 = std::min(round_up(t.core.y + t.core.height) + halo_px, padded_height);
        t.window = {wx0, wy0, wx1 - wx0, wy1 - wy0};
        return t;
    }

    /// Largest window (pixels high x wide) any tile reads: sizes buffers and the GFLOP estimate.
    Window largest_window() const
    {
        // The widest window is one with a full core and both halos, unless the image is smaller.
        return {0, 0, std::min(tile_size + 2 * halo_px, padded_width),
                std::min(tile_size + 2 * halo_px, padded_height)};
    }

    /// Along one axis: the first and last tile index whose core the core [start, start + size)
    /// grown by the halo touches (within [0, image_size)). The blend stitcher's reach.
    std::pair<int, int> reach(int start, int size, int image_size) const
    {
        const int lo = std::max(0, start - halo_px);
        const int hi = std::min(image_size, start + size + halo_px); // exclusive
        return {lo / tile_size, (hi - 1) / tile_size};
    }

private:
    int round_up(int v) const { return (v + stride - 1) / stride * stride; }
};

} // namespace atrous
