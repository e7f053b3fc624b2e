// SPDX-License-Identifier: Apache-2.0
// Purpose: `stitch.crop`: the core of each window prediction, planar, with its valid mask.
#include "crop_stitcher.hpp"

#include "stages/stitch/stitch_grid.hpp"

namespace atrous
{

CropStitcher::CropStitcher(const StitchGeometry& geometry) : m_geometry(geometry)
{
    stitch::validate(name(), m_geometry);
}

std::vector<OutputBlock> CropStitcher::add(Prediction&& p)
{
    stitch::check(name(), m_geometry, p);
    if (!m_geometry.spatial)
        return {stitch::classifier_block(m_geometry, p)};
    const Window& core = p.task.core;
    if (p.empty)
        return {stitch::nodata_block(core, m_geometry.channels, p.task.id)};

    const Window& w = p.task.window;
    const int channels = m_geometry.channels;
    OutputBlock b;
    b.region = core;
    b.channels = channels;
    const std::size_t plane =
        static_cast<std::size_t>(core.width) * static_cast<std::size_t>(core.height);
    b.probabilities.resize(plane * static_cast<std::size_t>(channels));
    b.valid.resize(plane);
    b.tiles = {p.task.id};
    for (int y = 0; y < core.height; ++y)
    {
        const int wy = core.y - w.y + y;
        for (int x = 0; x < core.width; ++x)
        {
            const int wx = core.x - w.x + x;
            const std::size_t o = static_cast<std::size_t>(y) * core.width + x;
            const bool valid = p.valid[static_cast<std::size_t>(wy) * w.width + wx] != 0;
            b.valid[o] = valid ? 1 : 0;
            const float* src = p.probabilities.data() + p.probabilities.index(0, wy, wx, 0);
            for (int c = 0; c < channels; ++c)
                b.probabilities[c * plane + o] = valid ? src[c] : 0.0f;
        }
    }
    return {std::move(b)};
}

} // namespace atrous
