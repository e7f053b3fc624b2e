// SPDX-License-Identifier: Apache-2.0
// Purpose: `stitch.crop`, the overlap-tile strategy: each tile contributes exactly its core.
#pragma once

#include "stages/stage.hpp"
#include "stages/stitch/stitch_options.hpp"

namespace atrous
{

/// Emits each tile's core at once, cropped from the window prediction (classifiers: the tile's
/// cell of the class grid). Stateless per call, so add() is thread-safe.
class CropStitcher final : public Stitcher
{
public:
    explicit CropStitcher(const StitchGeometry& geometry);
    std::string_view name() const override { return "stitch.crop"; }
    std::vector<OutputBlock> add(Prediction&& prediction) override;
    /// The tiles not done.
    std::vector<TileId> resume(const std::vector<std::uint8_t>& done_cores) override;

private:
    StitchGeometry m_geometry;
};

} // namespace atrous
