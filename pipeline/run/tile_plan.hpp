// SPDX-License-Identifier: Apache-2.0
// Purpose: the tile grid: cores that partition the image, windows (core + halo) aligned to the
// model's total stride, and the halo that makes tiled inference exact.
#pragma once

#include "stages/infer/engine/model.hpp"
#include "stages/tile_grid.hpp"

#include <optional>
#include <string>

namespace atrous
{

/// What the grid is planned from.
struct TilePlanRequest
{
    int image_width = 0; // pixels
    int image_height = 0;
    std::optional<int> tile_size;         // core edge; empty = 256 (classifier: its input size)
    std::optional<int> halo_px;           // empty = exact (the model's halo_px)
    std::string size_where = "tile.size"; // names the key in errors ("cfg.yaml:7 tile.size")
};

/// Immutable value: the grid (stages/tile_grid.hpp) validated against the model; every stage
/// gets grid() by const reference.
///
/// Spatial models: the image is padded bottom/right to a multiple of the total stride s (the
/// `padded` size); cores are tile_size x tile_size (the last row/column clipped to the image);
/// windows are the core grown by the halo (a multiple of s), its far edge first rounded up to s,
/// clipped to the padded image. Every window edge is thus a multiple of s and the network sees
/// the true image border as its own zero padding.
/// Classifiers (ModelFacts::spatial false): tiles are the model's fixed input size, no halo,
/// windows = the whole cell (the last ones reach into the padding), one class per tile.
class TilePlan
{
public:
    /// Throws ConfigError(size_where, ...) when tile_size is not a positive multiple of the
    /// stride, or differs from a classifier's fixed input; ModelError for a non-square
    /// classifier input.
    TilePlan(const TilePlanRequest& request, const infer::ModelFacts& facts);

    const TileGrid& grid() const { return m_grid; }

    int image_width() const { return m_grid.image_width; }
    int image_height() const { return m_grid.image_height; }
    int padded_width() const { return m_grid.padded_width; }
    int padded_height() const { return m_grid.padded_height; }
    int tile_size() const { return m_grid.tile_size; }
    int halo_px() const { return m_grid.halo_px; }
    int stride() const { return m_grid.stride; } // alignment of every window edge
    int columns() const { return m_grid.columns; }
    int rows() const { return m_grid.rows; }
    bool spatial() const { return m_grid.spatial; }
    long long count() const { return m_grid.count(); }

    /// Tile `id` (row-major, 0 <= id < count()).
    TileTask task(TileId id) const { return m_grid.task(id); }

    /// Largest window (pixels high x wide) any tile reads: sizes buffers and the GFLOP estimate.
    Window largest_window() const { return m_grid.largest_window(); }

private:
    TileGrid m_grid;
};

/// Rounds v up to a multiple of m (m > 0, v >= 0).
constexpr int round_up(int v, int m)
{
    return (v + m - 1) / m * m;
}

} // namespace atrous
