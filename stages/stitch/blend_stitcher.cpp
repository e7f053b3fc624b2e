// SPDX-License-Identifier: Apache-2.0
// Purpose: `stitch.blend`: per-core accumulators with contributor counts, cosine-ramp weights.
#include "blend_stitcher.hpp"

#include "stages/error.hpp"
#include "stages/stitch/stitch_grid.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace atrous
{

BlendStitcher::BlendStitcher(const StitchGeometry& geometry) : m_geometry(geometry)
{
    stitch::validate(name(), m_geometry);
    const StitchGeometry& g = m_geometry;
    m_contributors_x.assign(static_cast<std::size_t>(g.columns), 0);
    m_contributors_y.assign(static_cast<std::size_t>(g.rows), 0);
    // Tile j touches the cores of the columns its grown core spans; count per target.
    for (int col = 0; col < g.columns; ++col)
    {
        const Window core = stitch::core_of(g, 0, col);
        const auto [first, last] = reach(core.x, core.width, g.image_width);
        for (int c = first; c <= last; ++c)
            ++m_contributors_x[static_cast<std::size_t>(c)];
    }
    for (int row = 0; row < g.rows; ++row)
    {
        const Window core = stitch::core_of(g, row, 0);
        const auto [first, last] = reach(core.y, core.height, g.image_height);
        for (int r = first; r <= last; ++r)
            ++m_contributors_y[static_cast<std::size_t>(r)];
    }
    m_seen.assign(static_cast<std::size_t>(g.columns) * static_cast<std::size_t>(g.rows), 0);
}

std::pair<int, int> BlendStitcher::reach(int core_start, int core_size, int image_size) const
{
    const int lo = std::max(0, core_start - m_geometry.halo_px);
    const int hi = std::min(image_size, core_start + core_size + m_geometry.halo_px); // exclusive
    return {lo / m_geometry.tile_size, (hi - 1) / m_geometry.tile_size};
}

float BlendStitcher::ramp(int core_start, int core_size, int v) const
{
    int d = 0;
    if (v < core_start)
        d = core_start - v;
    else if (v >= core_start + core_size)
        d = v - (core_start + core_size - 1);
    if (d == 0)
        return 1.0f;
    const double h = m_geometry.halo_px;
    return static_cast<float>(0.5 * (1.0 + std::cos(std::numbers::pi * d / (h + 1.0))));
}

std::size_t BlendStitcher::pending() const
{
    std::lock_guard lock(m_mutex);
    return m_pending.size();
}

std::vector<OutputBlock> BlendStitcher::add(Prediction&& p)
{
    stitch::check(name(), m_geometry, p);
    const StitchGeometry& g = m_geometry;
    {
        std::lock_guard lock(m_mutex);
        auto& seen = m_seen[static_cast<std::size_t>(p.task.id)];
        if (seen != 0)
            throw Error(std::string(name()), "tile " + std::to_string(p.task.id) + " added twice");
        seen = 1;
    }
    if (!g.spatial)
        return {stitch::classifier_block(g, p)};

    const Window& core = p.task.core;
    const Window& w = p.task.window;
    const int channels = g.channels;
    const auto [col_first, col_last] = reach(core.x, core.width, g.image_width);
    const auto [row_first, row_last] = reach(core.y, core.height, g.image_height);
    // The area this tile contributes to: grown core within the window and the image.
    const int ax0 = std::max({w.x, core.x - g.halo_px, 0});
    const int ay0 = std::max({w.y, core.y - g.halo_px, 0});
    const int ax1 = std::min({w.x + w.width, core.x + core.width + g.halo_px, g.image_width});
    const int ay1 = std::min({w.y + w.height, core.y + core.height + g.halo_px, g.image_height});

    std::vector<float> wx(static_cast<std::size_t>(std::max(0, ax1 - ax0)));
    for (int x = ax0; x < ax1; ++x)
        wx[static_cast<std::size_t>(x - ax0)] = ramp(core.x, core.width, x);
    std::vector<float> wy(static_cast<std::size_t>(std::max(0, ay1 - ay0)));
    for (int y = ay0; y < ay1; ++y)
        wy[static_cast<std::size_t>(y - ay0)] = ramp(core.y, core.height, y);

    std::vector<OutputBlock> done;
    std::lock_guard lock(m_mutex);
    for (int row = row_first; row <= row_last; ++row)
    {
        for (int col = col_first; col <= col_last; ++col)
        {
            const TileId target_id = static_cast<TileId>(row) * g.columns + col;
            const Window target = stitch::core_of(g, row, col);
            const std::size_t plane =
                static_cast<std::size_t>(target.width) * static_cast<std::size_t>(target.height);
            auto [it, created] = m_pending.try_emplace(target_id);
            Accumulator& acc = it->second;
            if (created)
            {
                acc.sum.assign(plane * static_cast<std::size_t>(channels), 0.0f);
                acc.weight.assign(plane, 0.0f);
                acc.remaining = m_contributors_x[static_cast<std::size_t>(col)] *
                                m_contributors_y[static_cast<std::size_t>(row)];
            }
            if (!p.empty)
            {
                const int x0 = std::max(ax0, target.x);
                const int x1 = std::min(ax1, target.x + target.width);
                const int y0 = std::max(ay0, target.y);
                const int y1 = std::min(ay1, target.y + target.height);
                for (int y = y0; y < y1; ++y)
                {
                    for (int x = x0; x < x1; ++x)
                    {
                        const std::size_t src_px =
                            static_cast<std::size_t>(y - w.y) * w.width + (x - w.x);
                        if (p.valid[src_px] == 0)
                            continue;
                        const float weight = wx[static_cast<std::size_t>(x - ax0)] *
                                             wy[static_cast<std::size_t>(y - ay0)];
                        const std::size_t o =
                            static_cast<std::size_t>(y - target.y) * target.width + (x - target.x);
                        acc.weight[o] += weight;
                        const float* src = p.probabilities.data() + src_px * channels;
                        for (int c = 0; c < channels; ++c)
                            acc.sum[c * plane + o] += weight * src[c];
                    }
                }
            }
            if (--acc.remaining > 0)
                continue;

            OutputBlock b;
            b.region = target;
            b.channels = channels;
            b.probabilities = std::move(acc.sum);
            b.valid.assign(plane, 0);
            for (std::size_t o = 0; o < plane; ++o)
            {
                const float weight = acc.weight[o];
                if (weight > 0.0f)
                {
                    b.valid[o] = 1;
                    for (int c = 0; c < channels; ++c)
                        b.probabilities[c * plane + o] /= weight;
                }
            }
            b.tiles = {target_id};
            m_pending.erase(it);
            done.push_back(std::move(b));
        }
    }
    return done;
}

} // namespace atrous
