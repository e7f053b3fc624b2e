// SPDX-License-Identifier: Apache-2.0
// Purpose: `stitch.blend`: shares per core with contributor counts, cosine-ramp weights, a sum in
// source-tile order.
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
        const auto [first, last] = g.reach(core.x, core.width, g.image_width);
        for (int c = first; c <= last; ++c)
            ++m_contributors_x[static_cast<std::size_t>(c)];
    }
    for (int row = 0; row < g.rows; ++row)
    {
        const Window core = stitch::core_of(g, row, 0);
        const auto [first, last] = g.reach(core.y, core.height, g.image_height);
        for (int r = first; r <= last; ++r)
            ++m_contributors_y[static_cast<std::size_t>(r)];
    }
    const std::size_t tiles =
        static_cast<std::size_t>(g.columns) * static_cast<std::size_t>(g.rows);
    m_seen.assign(tiles, 0);
    m_final.assign(tiles, 0);
}

void BlendStitcher::prepare(const RunContext& context)
{
    std::lock_guard lock(m_mutex);
    m_rank = context.rank;
    m_ranks = std::max(1, context.ranks);
}

void BlendStitcher::skip_final(const std::vector<std::uint8_t>& final_cores)
{
    std::lock_guard lock(m_mutex);
    for (std::size_t i = 0; i < final_cores.size() && i < m_final.size(); ++i)
        m_final[i] = final_cores[i] != 0 ? 1 : 0;
}

std::vector<TileId> BlendStitcher::resume(const std::vector<std::uint8_t>& done_cores)
{
    skip_final(done_cores);
    const StitchGeometry& g = m_geometry;
    if (!g.spatial)
        return stitch::not_done(g, done_cores);
    std::vector<TileId> out;
    for (TileId id = 0; id < g.count(); ++id)
    {
        bool needed = done_cores[static_cast<std::size_t>(id)] == 0;
        const Window core =
            g.core(static_cast<int>(id / g.columns), static_cast<int>(id % g.columns));
        const auto [c0, c1] = g.reach(core.x, core.width, g.image_width);
        const auto [r0, r1] = g.reach(core.y, core.height, g.image_height);
        for (int r = r0; r <= r1 && !needed; ++r)
        {
            for (int c = c0; c <= c1 && !needed; ++c)
                needed = done_cores[static_cast<std::size_t>(r) * g.columns + c] == 0;
        }
        if (needed)
            out.push_back(id);
    }
    return out;
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

std::vector<BlendShare> BlendStitcher::take_outgoing()
{
    std::lock_guard lock(m_mutex);
    std::vector<BlendShare> out = std::move(m_outgoing);
    m_outgoing.clear();
    return out;
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
    const auto [col_first, col_last] = g.reach(core.x, core.width, g.image_width);
    const auto [row_first, row_last] = g.reach(core.y, core.height, g.image_height);
    // The area this tile contributes to: grown core within the window and the image.
    const int ax0 = std::max({w.x, core.x - g.halo_px, 0});
    const int ay0 = std::max({w.y, core.y - g.halo_px, 0});
    const int ax1 = std::min({w.x + w.width, core.x + core.width + g.halo_px, g.image_width});
    const int ay1 = std::min({w.y + w.height, core.y + core.height + g.halo_px, g.image_height});

    // Cut the prediction into shares outside the lock (copies of the window's planes).
    std::vector<BlendShare> shares;
    for (int row = row_first; row <= row_last; ++row)
    {
        for (int col = col_first; col <= col_last; ++col)
        {
            const TileId target_id = static_cast<TileId>(row) * g.columns + col;
            if (m_final[static_cast<std::size_t>(target_id)] != 0)
                continue;
            const Window target = stitch::core_of(g, row, col);
            BlendShare s;
            s.target = target_id;
            s.source = p.task.id;
            s.channels = channels;
            s.empty = p.empty;
            const int x0 = std::max(ax0, target.x);
            const int x1 = std::min(ax1, target.x + target.width);
            const int y0 = std::max(ay0, target.y);
            const int y1 = std::min(ay1, target.y + target.height);
            s.region = {x0, y0, std::max(0, x1 - x0), std::max(0, y1 - y0)};
            if (!p.empty)
            {
                const std::size_t plane = static_cast<std::size_t>(s.region.width) *
                                          static_cast<std::size_t>(s.region.height);
                s.probabilities.resize(plane * static_cast<std::size_t>(channels));
                s.valid.resize(plane);
                for (int y = y0; y < y1; ++y)
                {
                    for (int x = x0; x < x1; ++x)
                    {
                        const std::size_t src_px =
                            static_cast<std::size_t>(y - w.y) * w.width + (x - w.x);
                        const std::size_t o =
                            static_cast<std::size_t>(y - y0) * s.region.width + (x - x0);
                        s.valid[o] = p.valid[src_px] != 0 ? 1 : 0;
                        const float* src = p.probabilities.data() + src_px * channels;
                        for (int c = 0; c < channels; ++c)
                            s.probabilities[c * plane + o] = src[c];
                    }
                }
            }
            shares.push_back(std::move(s));
        }
    }

    std::vector<OutputBlock> done;
    std::lock_guard lock(m_mutex);
    for (BlendShare& s : shares)
    {
        if (owner(s.target) != m_rank)
        {
            m_outgoing.push_back(std::move(s));
            continue;
        }
        for (OutputBlock& b : accept_locked(std::move(s)))
            done.push_back(std::move(b));
    }
    return done;
}

std::vector<OutputBlock> BlendStitcher::accept(BlendShare&& share)
{
    std::lock_guard lock(m_mutex);
    return accept_locked(std::move(share));
}

std::vector<OutputBlock> BlendStitcher::accept_locked(BlendShare&& s)
{
    const StitchGeometry& g = m_geometry;
    const std::string where = std::string(name()) + ": share of tile " + std::to_string(s.source) +
                              " for core " + std::to_string(s.target);
    const TileId tiles = static_cast<TileId>(g.columns) * g.rows;
    if (s.target < 0 || s.target >= tiles || s.source < 0 || s.source >= tiles)
        throw Error(where, "outside the grid");
    if (owner(s.target) != m_rank)
        throw Error(where, "owned by rank " + std::to_string(owner(s.target)) + ", not " +
                               std::to_string(m_rank));
    const int row = static_cast<int>(s.target / g.columns);
    const int col = static_cast<int>(s.target % g.columns);
    const Window target = stitch::core_of(g, row, col);
    const std::size_t plane =
        static_cast<std::size_t>(s.region.width) * static_cast<std::size_t>(s.region.height);
    if (s.region.x < target.x || s.region.y < target.y ||
        s.region.x + s.region.width > target.x + target.width ||
        s.region.y + s.region.height > target.y + target.height || s.channels != g.channels ||
        (!s.empty && (s.valid.size() != plane ||
                      s.probabilities.size() != plane * static_cast<std::size_t>(g.channels))))
        throw Error(where, "region or data does not fit the core");
    if (m_final[static_cast<std::size_t>(s.target)] != 0)
        return {};

    auto [it, created] = m_pending.try_emplace(s.target);
    Accumulator& acc = it->second;
    if (created)
        acc.remaining = m_contributors_x[static_cast<std::size_t>(col)] *
                        m_contributors_y[static_cast<std::size_t>(row)];
    const TileId source = s.source;
    if (!acc.shares.emplace(source, std::move(s)).second)
        throw Error(where, "given twice");
    if (--acc.remaining > 0)
        return {};
    std::vector<OutputBlock> done;
    done.push_back(blend(it->first, acc));
    m_pending.erase(it);
    return done;
}

OutputBlock BlendStitcher::blend(TileId target_id, const Accumulator& acc) const
{
    const StitchGeometry& g = m_geometry;
    const int channels = g.channels;
    const Window target = stitch::core_of(g, static_cast<int>(target_id / g.columns),
                                          static_cast<int>(target_id % g.columns));
    const std::size_t plane =
        static_cast<std::size_t>(target.width) * static_cast<std::size_t>(target.height);
    OutputBlock b;
    b.region = target;
    b.channels = channels;
    b.probabilities.assign(plane * static_cast<std::size_t>(channels), 0.0f);
    std::vector<float> weights(plane, 0.0f);
    // std::map: increasing source tile, the same order whichever rank or thread sent what.
    for (const auto& [source, s] : acc.shares)
    {
        if (s.empty)
            continue;
        const Window core = stitch::core_of(g, static_cast<int>(source / g.columns),
                                            static_cast<int>(source % g.columns));
        const Window& r = s.region;
        const std::size_t share_plane =
            static_cast<std::size_t>(r.width) * static_cast<std::size_t>(r.height);
        for (int y = r.y; y < r.y + r.height; ++y)
        {
            const float wy = ramp(core.y, core.height, y);
            for (int x = r.x; x < r.x + r.width; ++x)
            {
                const std::size_t i = static_cast<std::size_t>(y - r.y) * r.width + (x - r.x);
                if (s.valid[i] == 0)
                    continue;
                const float weight = ramp(core.x, core.width, x) * wy;
                const std::size_t o =
                    static_cast<std::size_t>(y - target.y) * target.width + (x - target.x);
                weights[o] += weight;
                for (int c = 0; c < channels; ++c)
                    b.probabilities[c * plane + o] += weight * s.probabilities[c * share_plane + i];
            }
        }
    }
    b.valid.assign(plane, 0);
    for (std::size_t o = 0; o < plane; ++o)
    {
        const float weight = weights[o];
        if (weight > 0.0f)
        {
            b.valid[o] = 1;
            for (int c = 0; c < channels; ++c)
                b.probabilities[c * plane + o] /= weight;
        }
    }
    b.tiles = {target_id};
    return b;
}

} // namespace atrous
