// SPDX-License-Identifier: Apache-2.0
// Purpose: the TBB tile pipeline: dispenser -> read -> infer -> stitch -> write, with stage
// timings and the blend exchange between ranks.
#include "tiles_executor.hpp"

#include "pipeline/comm/blend_exchange.hpp"
#include "pipeline/comm/tile_dispenser.hpp"
#include "stages/stitch/blend_stitcher.hpp"

#include <oneapi/tbb/parallel_pipeline.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>

namespace atrous
{

ExecutionResult TilesExecutor::run(const RunPlan& plan, const Checkpoint& checkpoint,
                                   RunStages& stages, const ExecutionContext& run)
{
    const TilePlan& tiles = plan.tiles();
    const FlopTable& flops = plan.flops();
    const std::vector<std::uint8_t>& done = checkpoint.done();
    double needed_gflop = 0;
    for (const TileId id : checkpoint.needed())
        needed_gflop += flops.of(tiles.task(id).window);

    Progress progress(run.format, tiles.count() - checkpoint.done_count(), needed_gflop, stdout);
    std::atomic<long long> empty_tiles{0};
    // Summed over the parallel filter's calls (and, blend under MPI, the receiver thread's).
    std::atomic<long long> read_ns{0}, infer_ns{0}, write_ns{0};
    double stitch_s = 0;       // serial filter: a plain sum
    double inferred_gflop = 0; // the same filter: work of the tiles actually inferred
    using Clock = std::chrono::steady_clock;
    const auto ns_since = [](Clock::time_point t)
    { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t).count(); };
    std::atomic<long long> tiles_written{0};
    TileDispenser dispenser(checkpoint.needed(), run.watch, run.comm);
    const auto start = std::chrono::steady_clock::now();

    Reader* const rd = &stages.reader;
    const Inferer* const inf = &stages.inferer;
    Stitcher* const st = &stages.stitcher;
    Writer* const wr = &stages.writer;
    // Writes completed blocks; thread-safe (the blend exchange's receiver thread calls it too).
    const auto deliver = [&](std::vector<OutputBlock>&& blocks)
    {
        for (const OutputBlock& block : blocks)
        {
            // Crop on resume never recomputes a done tile; blend makes no share of a done core.
            if (std::all_of(block.tiles.begin(), block.tiles.end(),
                            [&](TileId t) { return done[static_cast<std::size_t>(t)] != 0; }))
                continue;
            const auto t1 = Clock::now();
            wr->write(block);
            write_ns.fetch_add(ns_since(t1));
            tiles_written.fetch_add(static_cast<long long>(block.tiles.size()));
            progress.advance(static_cast<long long>(block.tiles.size()), 0.0);
        }
    };
    // Blend under MPI: each core has an owner rank, which receives the other ranks' shares of it.
    // Only the blend stitcher shares cores, so only it is exchanged.
    auto* const blend =
        run.comm.size() > 1 ? dynamic_cast<BlendStitcher*>(&stages.stitcher) : nullptr;
    std::optional<BlendExchange> exchange;
    if (blend != nullptr)
        exchange.emplace(*blend, deliver, run.comm);
    tbb::parallel_pipeline(
        static_cast<std::size_t>(plan.tiles_in_flight()),
        tbb::make_filter<void, RasterTile>(tbb::filter_mode::serial_in_order,
                                           [&](tbb::flow_control& fc) -> RasterTile
                                           {
                                               const std::optional<TileId> id = dispenser.next();
                                               if (!id)
                                               {
                                                   fc.stop();
                                                   return {};
                                               }
                                               const auto t0 = Clock::now();
                                               RasterTile tile = rd->read(tiles.task(*id));
                                               if (tile.empty)
                                                   empty_tiles.fetch_add(1,
                                                                         std::memory_order_relaxed);
                                               read_ns.fetch_add(ns_since(t0));
                                               return tile;
                                           }) &
            tbb::make_filter<RasterTile, Prediction>(tbb::filter_mode::parallel,
                                                     [&](const RasterTile& tile) -> Prediction
                                                     {
                                                         const auto t0 = Clock::now();
                                                         Prediction p = inf->infer(tile);
                                                         infer_ns.fetch_add(ns_since(t0));
                                                         return p;
                                                     }) &
            tbb::make_filter<Prediction, void>(tbb::filter_mode::serial_out_of_order,
                                               [&](Prediction p)
                                               {
                                                   // Empty tiles were planned but not inferred.
                                                   const double planned = flops.of(p.task.window);
                                                   const double g = p.empty ? 0.0 : planned;
                                                   inferred_gflop += g;
                                                   const auto t0 = Clock::now();
                                                   std::vector<OutputBlock> blocks =
                                                       st->add(std::move(p));
                                                   stitch_s +=
                                                       static_cast<double>(ns_since(t0)) * 1e-9;
                                                   deliver(std::move(blocks));
                                                   if (exchange)
                                                       exchange->send(blend->take_outgoing());
                                                   progress.advance(0, g, planned - g);
                                               }));
    // Blend under MPI: every share sent anywhere is accepted (and its core written) before the
    // writer closes.
    if (exchange)
        exchange->finish();
    progress.finish();
    dispenser.close();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    stages.stitcher.finish(run.context);
    const auto finish_start = Clock::now();
    stages.writer.finish(run.context); // collective under MPI
    write_ns.fetch_add(ns_since(finish_start));
    stages.reader.finish(run.context);

    ExecutionResult r;
    r.executor = "tiles";
    r.tiles_taken = dispenser.taken();
    r.tiles_written = tiles_written.load();
    r.empty_tiles = empty_tiles.load();
    r.interrupted = dispenser.interrupted();
    r.seconds = seconds;
    r.read_seconds = static_cast<double>(read_ns.load()) * 1e-9;
    r.infer_seconds = static_cast<double>(infer_ns.load()) * 1e-9;
    r.stitch_seconds = stitch_s;
    r.write_seconds = static_cast<double>(write_ns.load()) * 1e-9;
    r.busy_seconds = r.read_seconds + r.infer_seconds + r.stitch_seconds + r.write_seconds;
    r.wait_seconds = dispenser.wait_seconds();
    r.gflop = inferred_gflop;
    r.shares_sent = exchange ? exchange->shares_sent() : 0;
    return r;
}

} // namespace atrous
