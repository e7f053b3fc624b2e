// SPDX-License-Identifier: Apache-2.0
// Purpose: `stitch.blend`: weighted average of overlapping window predictions.
#pragma once

#include "stages/stage.hpp"
#include "stages/stitch/stitch_options.hpp"

#include <mutex>
#include <unordered_map>

namespace atrous
{

/// Every tile contributes over its core grown by the halo (within its window), with weight 1 on
/// the core and a cosine ramp 0.5 * (1 + cos(pi * d / (halo + 1))) at distance d = 1..halo
/// outside it: > 0 over the whole halo, and full weight at the true image border, where no
/// neighbour overlaps. A core is emitted (as one block; blocks never overlap) once every tile whose
/// grown core touches it has arrived, then its accumulator is freed: memory holds only the cores
/// still waiting for a neighbour. Nodata pixels and empty tiles contribute nothing; a pixel no
/// valid contribution reached is nodata. Classifiers: as stitch.crop. add() is thread-safe (one
/// mutex).
class BlendStitcher final : public Stitcher
{
public:
    explicit BlendStitcher(const StitchGeometry& geometry);
    std::string_view name() const override { return "stitch.blend"; }
    std::vector<OutputBlock> add(Prediction&& prediction) override;

    /// Cores waiting for contributions (for tests and memory checks).
    std::size_t pending() const;

private:
    struct Accumulator
    {
        std::vector<float> sum;    // C x h x w, weighted probabilities
        std::vector<float> weight; // h x w
        int remaining = 0;         // tiles still to contribute
    };

    /// Weight along one axis at image coordinate v of a tile whose core spans core_start + size.
    float ramp(int core_start, int core_size, int v) const;
    /// First and last tile index (one axis) whose core the grown core touches.
    std::pair<int, int> reach(int core_start, int core_size, int image_size) const;

    StitchGeometry m_geometry;
    std::vector<int> m_contributors_x; // per tile column: tile columns touching its core
    std::vector<int> m_contributors_y; // per tile row
    mutable std::mutex m_mutex;
    std::unordered_map<TileId, Accumulator> m_pending;
    std::vector<std::uint8_t> m_seen; // per tile: already added
};

} // namespace atrous
