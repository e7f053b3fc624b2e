// SPDX-License-Identifier: Apache-2.0
// Purpose: the tile grid (see tile_plan.hpp for the geometry).
#include "tile_plan.hpp"

#include "stages/error.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace atrous
{

TilePlan::TilePlan(const TilePlanRequest& request, const infer::ModelFacts& facts)
{
    TileGrid& g = m_grid;
    g.image_width = request.image_width;
    g.image_height = request.image_height;
    g.spatial = facts.spatial;
    if (g.image_width <= 0 || g.image_height <= 0)
        throw Error("tile plan",
                    fmt::format("image size {}x{} is empty", g.image_width, g.image_height));
    if (g.spatial)
    {
        g.stride = std::max(1, facts.total_stride);
        g.tile_size = request.tile_size.value_or(256);
        if (g.tile_size <= 0 || g.tile_size % g.stride != 0)
            throw ConfigError(request.size_where,
                              fmt::format("expected a multiple of {} (the model's total stride), "
                                          "found {}",
                                          g.stride, g.tile_size));
        const int halo = request.halo_px.value_or(facts.halo_px);
        g.halo_px = round_up(std::max(0, halo), g.stride);
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
        g.tile_size = facts.fixed_height;
        if (request.tile_size && *request.tile_size != g.tile_size)
            throw ConfigError(request.size_where,
                              fmt::format("expected {} (the classifier's fixed input size), "
                                          "found {}",
                                          g.tile_size, *request.tile_size));
        g.stride = g.tile_size;
        g.halo_px = 0;
    }
    g.padded_width = round_up(g.image_width, g.stride);
    g.padded_height = round_up(g.image_height, g.stride);
    g.columns = (g.image_width + g.tile_size - 1) / g.tile_size;
    g.rows = (g.image_height + g.tile_size - 1) / g.tile_size;
}

} // namespace atrous
