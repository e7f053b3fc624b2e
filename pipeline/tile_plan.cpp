// SPDX-License-Identifier: Apache-2.0
// Purpose: the tile grid (see tile_plan.hpp for the geometry).
#include "tile_plan.hpp"

#include "stages/error.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace atrous
{

TilePlan::TilePlan(const TilePlanRequest& request, const infer::ModelFacts& facts)
    : m_width(request.image_width), m_height(request.image_height), m_spatial(facts.spatial)
{
    if (m_width <= 0 || m_height <= 0)
        throw Error("tile plan", fmt::format("image size {}x{} is empty", m_width, m_height));
    if (m_spatial)
    {
        m_align = std::max(1, facts.total_stride);
        m_tile = request.tile_size.value_or(256);
        if (m_tile <= 0 || m_tile % m_align != 0)
            throw ConfigError(request.size_where,
                              fmt::format("expected a multiple of {} (the model's total stride), "
                                          "found {}",
                                          m_align, m_tile));
        const int halo = request.halo_px.value_or(facts.halo_px);
        m_halo = round_up(std::max(0, halo), m_align);
    }
    else
    {
        if (facts.fixed_height <= 0 || facts.fixed_width <= 0)
            throw ModelError("tile plan", "a non-spatial model must have a fixed input size");
        if (facts.fixed_height != facts.fixed_width)
            throw ModelError("tile plan",
                             fmt::format("expected a square classifier input to tile with, found "
                                         "{}x{}",
                                         facts.fixed_height, facts.fixed_width));
        m_tile = facts.fixed_height;
        if (request.tile_size && *request.tile_size != m_tile)
            throw ConfigError(request.size_where,
                              fmt::format("expected {} (the classifier's fixed input size), "
                                          "found {}",
                                          m_tile, *request.tile_size));
        m_align = m_tile;
        m_halo = 0;
    }
    m_padded_width = round_up(m_width, m_align);
    m_padded_height = round_up(m_height, m_align);
    m_columns = (m_width + m_tile - 1) / m_tile;
    m_rows = (m_height + m_tile - 1) / m_tile;
}

TileTask TilePlan::task(TileId id) const
{
    TileTask t;
    t.id = id;
    t.row = static_cast<int>(id / m_columns);
    t.col = static_cast<int>(id % m_columns);

    const int x0 = t.col * m_tile;
    const int y0 = t.row * m_tile;
    const int x1 = std::min(x0 + m_tile, m_width);
    const int y1 = std::min(y0 + m_tile, m_height);
    t.core = {x0, y0, x1 - x0, y1 - y0};

    // Origins are multiples of the tile (itself a multiple of the stride) minus the halo (also a
    // multiple); the far edge is first rounded up to the stride so a clipped last core still
    // gives the network an accepted size.
    const int wx0 = std::max(0, x0 - m_halo);
    const int wy0 = std::max(0, y0 - m_halo);
    const int wx1 = std::min(round_up(x1, m_align) + m_halo, m_padded_width);
    const int wy1 = std::min(round_up(y1, m_align) + m_halo, m_padded_height);
    t.window = {wx0, wy0, wx1 - wx0, wy1 - wy0};
    return t;
}

Window TilePlan::largest_window() const
{
    // The widest window is one with a full core and both halos, unless the image is smaller.
    const int w = std::min(m_tile + 2 * m_halo, m_padded_width);
    const int h = std::min(m_tile + 2 * m_halo, m_padded_height);
    return {0, 0, w, h};
}

} // namespace atrous
