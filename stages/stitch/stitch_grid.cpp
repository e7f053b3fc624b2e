// SPDX-License-Identifier: Apache-2.0
// Purpose: tile-grid arithmetic and prediction checks shared by the stitchers.
#include "stitch_grid.hpp"

#include "stages/error.hpp"

#include <algorithm>
#include <sstream>

namespace atrous::stitch
{

namespace
{

std::string text(const Window& w)
{
    std::ostringstream s;
    s << "(" << w.x << "," << w.y << " " << w.width << "x" << w.height << ")";
    return s.str();
}

} // namespace

void validate(std::string_view stage, const StitchGeometry& g)
{
    const std::string where(stage);
    if (g.image_width <= 0 || g.image_height <= 0 || g.tile_size <= 0 || g.halo_px < 0 ||
        g.channels <= 0)
        throw Error(where, "bad geometry: image " + std::to_string(g.image_width) + "x" +
                               std::to_string(g.image_height) + ", tile " +
                               std::to_string(g.tile_size) + ", halo " + std::to_string(g.halo_px) +
                               ", channels " + std::to_string(g.channels));
    const int cols = (g.image_width + g.tile_size - 1) / g.tile_size;
    const int rows = (g.image_height + g.tile_size - 1) / g.tile_size;
    if (g.columns != cols || g.rows != rows)
        throw Error(where, "tile grid " + std::to_string(g.columns) + "x" + std::to_string(g.rows) +
                               " does not cover the image: " + std::to_string(cols) + "x" +
                               std::to_string(rows) + " expected");
}

std::vector<TileId> not_done(const TileGrid& g, const std::vector<std::uint8_t>& done_cores)
{
    std::vector<TileId> out;
    for (TileId id = 0; id < g.count(); ++id)
    {
        if (done_cores[static_cast<std::size_t>(id)] == 0)
            out.push_back(id);
    }
    return out;
}

void check(std::string_view stage, const StitchGeometry& g, const Prediction& p)
{
    const std::string where = std::string(stage) + ": tile " + std::to_string(p.task.id);
    const TileTask& t = p.task;
    if (t.row < 0 || t.row >= g.rows || t.col < 0 || t.col >= g.columns ||
        t.id != static_cast<TileId>(t.row) * g.columns + t.col)
        throw Error(where, "row " + std::to_string(t.row) + ", col " + std::to_string(t.col) +
                               " outside the " + std::to_string(g.columns) + "x" +
                               std::to_string(g.rows) + " grid or id mismatch");
    if (!g.spatial)
    {
        if (!p.empty && p.probabilities.shape() != ImageShape{1, 1, g.channels})
            throw Error(
                where, "classifier prediction (1,1," + std::to_string(g.channels) + ") expected, " +
                           [&]
                           {
                               std::ostringstream s;
                               s << p.probabilities.shape();
                               return s.str();
                           }() +
                           " found");
        return;
    }
    const Window core = core_of(g, t.row, t.col);
    if (!(t.core == core))
        throw Error(where, "core " + text(t.core) + " differs from the grid's " + text(core));
    const Window& w = t.window;
    if (w.x > core.x || w.y > core.y || w.x + w.width < core.x + core.width ||
        w.y + w.height < core.y + core.height)
        throw Error(where, "window " + text(w) + " does not contain the core " + text(core));
    if (p.empty)
        return;
    const ImageShape want{w.height, w.width, g.channels};
    if (p.probabilities.shape() != want)
    {
        std::ostringstream s;
        s << "prediction " << want << " expected, " << p.probabilities.shape() << " found";
        throw Error(where, s.str());
    }
    if (p.valid.size() != static_cast<std::size_t>(w.width) * static_cast<std::size_t>(w.height))
        throw Error(where, "valid mask of " + std::to_string(p.valid.size()) + " pixels, " +
                               std::to_string(w.width * w.height) + " expected");
}

OutputBlock core_block(const Window& core, TileId tile, int channels, const float* probabilities,
                       const std::uint8_t* valid, int width, int x0, int y0)
{
    OutputBlock b;
    b.region = core;
    b.channels = channels;
    const std::size_t plane =
        static_cast<std::size_t>(core.width) * static_cast<std::size_t>(core.height);
    b.probabilities.assign(plane * static_cast<std::size_t>(channels), 0.0f);
    b.valid.assign(plane, 0);
    b.tiles = {tile};
    for (int y = 0; y < core.height; ++y)
    {
        const std::size_t src_row = static_cast<std::size_t>(core.y - y0 + y) * width;
        for (int x = 0; x < core.width; ++x)
        {
            const std::size_t s = src_row + static_cast<std::size_t>(core.x - x0 + x);
            if (valid[s] == 0)
                continue;
            const std::size_t o = static_cast<std::size_t>(y) * core.width + x;
            b.valid[o] = 1;
            const float* src = probabilities + s * static_cast<std::size_t>(channels);
            for (int c = 0; c < channels; ++c)
                b.probabilities[c * plane + o] = src[c];
        }
    }
    return b;
}

OutputBlock nodata_block(const Window& region, int channels, TileId tile)
{
    OutputBlock b;
    b.region = region;
    b.channels = channels;
    const std::size_t n =
        static_cast<std::size_t>(region.width) * static_cast<std::size_t>(region.height);
    b.probabilities.assign(n * static_cast<std::size_t>(channels), 0.0f);
    b.valid.assign(n, 0);
    b.tiles = {tile};
    return b;
}

OutputBlock classifier_block(const StitchGeometry& g, const Prediction& p)
{
    const Window cell{p.task.col, p.task.row, 1, 1};
    if (p.empty)
        return nodata_block(cell, g.channels, p.task.id);
    OutputBlock b;
    b.region = cell;
    b.channels = g.channels;
    b.probabilities.assign(p.probabilities.data(), p.probabilities.data() + g.channels);
    b.valid = {1};
    b.tiles = {p.task.id};
    return b;
}

} // namespace atrous::stitch
