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
    return {stitch::core_block(core, p.task.id, m_geometry.channels, p.probabilities.data(),
                               p.valid.data(), w.width, w.x, w.y)};
}

std::vector<TileId> CropStitcher::resume(const std::vector<std::uint8_t>& done_cores)
{
    return stitch::not_done(m_geometry, done_cores);
}

} // namespace atrous
