// SPDX-License-Identifier: Apache-2.0
// Purpose: tile.executor resolved: the stream's preconditions, its row-buffer budget, the choice.
#include "executor_choice.hpp"

#include "stages/error.hpp"
#include "stages/infer/engine/stream_plan.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace atrous
{
namespace
{

std::string mib_text(std::size_t bytes)
{
    return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

} // namespace

int stream_band_rows(int stride)
{
    return round_up(16, std::max(1, stride));
}

std::string stream_blocker(const RunConfig& cfg, const infer::Model& model)
{
    if (cfg.tile.halo_px)
        return fmt::format("stream needs tile.halo: exact (found {} px)", *cfg.tile.halo_px);
    if (cfg.stitch.mode != StitchMode::crop)
        return "stream needs tile.stitch: crop (found blend)";
    if (const std::string layer = infer::StreamPlan::blocker(model); !layer.empty())
        return fmt::format("the model cannot stream: layer {}", layer);
    return {};
}

void check_executor(const RunConfig& cfg, const infer::Model& model)
{
    if (cfg.tile.executor != TileOptions::Executor::stream)
        return; // the tiles executor runs every configuration; auto picks one that runs
    if (const std::string why = stream_blocker(cfg, model); !why.empty())
        throw ConfigError(cfg.where("tile.executor"),
                          why + "; use tile.executor: tiles (or auto) for this run");
}

ExecutorChoice choose_executor(const RunConfig& cfg, const infer::Model& model,
                               const TilePlan& plan, std::size_t budget_bytes)
{
    using E = TileOptions::Executor;
    ExecutorChoice choice;
    if (cfg.tile.executor == E::tiles)
    {
        choice.why = "tile.executor: tiles";
        return choice;
    }
    const bool named = cfg.tile.executor == E::stream;
    if (!named)
        if (const std::string why = stream_blocker(cfg, model); !why.empty())
        {
            choice.why = "auto: " + why;
            return choice;
        }
    const infer::StreamPlan stream(
        model,
        infer::Shape{1, plan.padded_height(), plan.padded_width(), model.facts().in_channels},
        stream_band_rows(plan.stride()));
    choice.stream_buffer_bytes = stream.buffer_bytes();
    if (!named && choice.stream_buffer_bytes > budget_bytes)
    {
        choice.why = fmt::format("auto: the stream's full-width row buffers would take {} for "
                                 "{} px wide rows, above its {} budget; tile.executor: stream "
                                 "runs it anyway",
                                 mib_text(choice.stream_buffer_bytes), plan.padded_width(),
                                 mib_text(budget_bytes));
        return choice;
    }
    choice.executor = E::stream;
    choice.why =
        fmt::format("{}: every value computed once, row buffers {}",
                    named ? "tile.executor: stream" : "auto", mib_text(choice.stream_buffer_bytes));
    return choice;
}

} // namespace atrous
