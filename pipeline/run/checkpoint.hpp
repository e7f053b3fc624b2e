// SPDX-License-Identifier: Apache-2.0
// Purpose: where a run starts: the tiles already in the output (a resumed partial file, or a
// complete output of the same run) and the tiles still to compute, as the stitcher needs them.
#pragma once

#include "pipeline/run/run_plan.hpp"
#include "stages/stage.hpp"

#include <cstdint>
#include <vector>

namespace atrous
{

class Checkpoint
{
public:
    /// Reads the prepared writer's done tiles; unless every tile is done, tells the stitcher and
    /// asks it which tiles it still needs (Stitcher::resume).
    Checkpoint(const RunPlan& plan, const Writer& writer, Stitcher& stitcher);

    /// Per TileId: non-zero when the tile's core is already in the output.
    const std::vector<std::uint8_t>& done() const { return m_done; }
    long long done_count() const { return m_done_count; }
    long long tile_count() const { return static_cast<long long>(m_done.size()); }
    /// Every tile is in the output: nothing to compute.
    bool complete() const { return m_done_count == tile_count(); }
    /// The tiles to compute, in increasing id: the cores not done and, with blend, their
    /// neighbours (their predictions are not stored).
    const std::vector<TileId>& needed() const { return m_needed; }

    /// The summary's line about where the run starts: "nothing to do" when complete, else the
    /// resume line, or a note that an existing output is replaced only at the end.
    void print(spdlog::logger& log, const RunPlan& plan) const;

private:
    std::vector<std::uint8_t> m_done;
    long long m_done_count = 0;
    std::vector<TileId> m_needed;
};

} // namespace atrous
