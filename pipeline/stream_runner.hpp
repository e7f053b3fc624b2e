// SPDX-License-Identifier: Apache-2.0
// Purpose: `tile.executor: stream` in a run: the whole image through the streaming executor
// (stages/infer/engine/stream_executor.hpp) in full-width bands of rows, its output rows cut into
// the tile plan's cores and handed to the writer as the crop stitcher's blocks would be.
#pragma once

#include "pipeline/config.hpp"
#include "pipeline/interrupt_watch.hpp"
#include "pipeline/progress.hpp"
#include "pipeline/runner.hpp"
#include "pipeline/tile_plan.hpp"
#include "stages/stage.hpp"

#include <cstdint>
#include <vector>

namespace atrous
{

/// Throws ConfigError (where: tile.executor) when `tile.executor: stream` cannot run: a halo
/// other than exact, stitch blend, several ranks, or a model the stream planner cannot stream
/// (named). Nothing when the executor is `tiles`. Called before the output exists.
void check_stream_executor(const RunConfig& config, const infer::Model& model, int ranks);

/// What Runner::run has prepared when it hands the run to the stream.
struct StreamRun
{
    const RunConfig& config;
    const RunContext& context;
    spdlog::logger& log;
    LogFormat format;
    const InterruptWatch& watch;
    Reader& reader;
    const infer::Model& model;
    const TilePlan& plan;
    Stitcher& stitcher; // only finished (the stream cuts the cores itself)
    Writer& writer;
    const std::vector<std::uint8_t>& done; // per tile: already in the output (resume)
    long long done_before = 0;
};

/// Streams the image from its top row (a resumed run: from the first tile row with a tile not
/// yet done, as a stream segment that re-warms from the rows above; it writes only the tiles not
/// yet done), writes each tile's core once the band has passed its
/// last row, finishes the stages and returns the report (fields filled so far in `report`).
/// Throws as Runner::run: InterruptedError after a signal (stopped at the next band, progress
/// recorded), OutputError when the output is incomplete.
RunReport run_stream(const StreamRun& run, RunReport report);

} // namespace atrous
