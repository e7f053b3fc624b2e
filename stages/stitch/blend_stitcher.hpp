// SPDX-License-Identifier: Apache-2.0
// Purpose: `stitch.blend`: weighted average of overlapping window predictions; each core has one
// owner rank, which sums every tile's share of it in a fixed order.
#pragma once

#include "stages/stage.hpp"
#include "stages/stitch/stitch_options.hpp"

#include <map>
#include <mutex>
#include <unordered_map>

namespace atrous
{

/// One tile's prediction over one core it reaches (its own or a neighbour's): the part of its
/// grown core (core + halo, within its window and the image) that lies in the target core.
/// Plain data: several ranks exchange shares (pipeline/comm/blend_exchange).
struct BlendShare
{
    TileId target = 0; // the core this share belongs to
    TileId source = 0; // the tile whose prediction it is
    Window region;     // image pixels, inside the target core
    int channels = 0;
    bool empty = false;               // the source tile was empty: counts, contributes nothing
    std::vector<float> probabilities; // C x region.height x region.width (planar); empty if empty
    std::vector<std::uint8_t> valid;  // region.height x region.width; empty if empty
};

/// Every tile contributes over its core grown by the halo (within its window), with weight 1 on
/// the core and a cosine ramp 0.5 * (1 + cos(pi * d / (halo + 1))) at distance d = 1..halo
/// outside it: > 0 over the whole halo, and full weight at the true image border, where no
/// neighbour overlaps. A tile's prediction is cut into shares, one per core it reaches. Each core
/// has one owner rank (owner(target) = target mod ranks, from prepare()'s context; one process
/// owns every core). Shares of owned cores are kept here; the others wait in take_outgoing() for
/// the pipeline to send them to their owner, which hands them to accept(). A core is emitted (as
/// one block; blocks never overlap) once all its shares (one per tile whose grown core touches
/// it) are in; its value is the weighted sum over the shares in increasing source-tile order, so
/// the bytes do not depend on arrival order, thread count or rank count. Then its shares are
/// freed: memory holds only the cores still waiting for a neighbour. Nodata pixels and empty
/// tiles contribute nothing; a pixel no valid contribution reached is nodata. Cores marked final
/// with skip_final() (resume) get no shares and are never emitted. Classifiers: as stitch.crop,
/// the computing rank emits the cell. add(), accept() and take_outgoing() are thread-safe.
class BlendStitcher final : public Stitcher
{
public:
    explicit BlendStitcher(const StitchGeometry& geometry);
    std::string_view name() const override { return "stitch.blend"; }
    /// Takes the rank and rank count (core ownership) from the context.
    void prepare(const RunContext& context) override;
    std::vector<OutputBlock> add(Prediction&& prediction) override;

    /// A share from another rank (or this one) of a core this rank owns; returns the block when
    /// it completed the core. Throws atrous::Error (a pipeline bug) for a core owned elsewhere, a
    /// share given twice, or a region outside the core.
    std::vector<OutputBlock> accept(BlendShare&& share);
    /// Shares of cores owned by other ranks, produced by add() since the last call.
    std::vector<BlendShare> take_outgoing();
    /// Cores already in the output (per TileId, non-zero = final): no share is made for them.
    void skip_final(const std::vector<std::uint8_t>& final_cores);
    /// skip_final(done_cores); returns every tile whose grown core (core + halo) touches a core
    /// not done (classifiers: the tiles not done).
    std::vector<TileId> resume(const std::vector<std::uint8_t>& done_cores) override;
    /// The rank that owns (accumulates and writes) a core.
    int owner(TileId target) const { return static_cast<int>(target % m_ranks); }

    /// Cores waiting for contributions on this rank (for tests and memory checks).
    std::size_t pending() const;

private:
    struct Accumulator
    {
        std::map<TileId, BlendShare> shares; // by source: summed in this order
        int remaining = 0;                   // shares still to come
    };

    /// Weight along one axis at image coordinate v of a tile whose core spans core_start + size.
    float ramp(int core_start, int core_size, int v) const;
    std::vector<OutputBlock> accept_locked(BlendShare&& share);
    OutputBlock blend(TileId target, const Accumulator& acc) const;

    StitchGeometry m_geometry;
    int m_rank = 0;
    int m_ranks = 1;
    std::vector<int> m_contributors_x; // per tile column: tile columns touching its core
    std::vector<int> m_contributors_y; // per tile row
    mutable std::mutex m_mutex;
    std::unordered_map<TileId, Accumulator> m_pending;
    std::vector<BlendShare> m_outgoing;
    std::vector<std::uint8_t> m_seen;  // per tile: already added
    std::vector<std::uint8_t> m_final; // per core: already in the output, no shares
};

} // namespace atrous
