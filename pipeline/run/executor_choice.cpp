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
    const int width = plan.padded_width();
    const int tile = plan.tile_size();
    const auto buffer_bytes = [&](int strip_px)
    {
        return infer::StreamPlan(
                   model, infer::Shape{1, plan.padded_height(), width, model.facts().in_channels},
                   stream_band_rows(plan.stride()), true, strip_px)
            .buffer_bytes();
    };
    const std::optional<int> asked = cfg.tile.stream_strip_px;
    int strip = 0;
    if (asked && *asked == 0)
        strip = width;
    else if (asked)
        strip = std::min(width, round_up(*asked, tile));
    else
    {
        strip = round_up(stream_strip_default_px, tile);
        if (width <= strip + strip / 2)
            strip = width;
    }
    choice.stream_buffer_bytes = buffer_bytes(strip);
    while (!asked && choice.stream_buffer_bytes > budget_bytes && strip > tile)
    {
        strip = round_up(std::max(tile, strip / 2), tile);
        choice.stream_buffer_bytes = buffer_bytes(strip);
    }
    choice.stream_strip_px = strip;
    const int strips_across = (width + strip - 1) / strip;
    const std::string strips = strips_across == 1 ? std::string("full width")
                                                  : fmt::format("{} strips of {} px", strips_across,
                                                                choice.stream_strip_px);
    if (!named && choice.stream_buffer_bytes > budget_bytes)
    {
        choice.why =
            fmt::format("auto: the stream's row buffers would take {} ({}), above its "
                        "{} budget; tile.executor: stream runs it anyway",
                        mib_text(choice.stream_buffer_bytes), strips, mib_text(budget_bytes));
        return choice;
    }
    choice.executor = E::stream;
    choice.why =
        fmt::format("{}: every value computed once, {}, row buffers {}{}",
                    named ? "tile.executor: stream" : "auto", strips,
                    mib_text(choice.stream_buffer_bytes), strips_across == 1 ? "" : " per strip");
    return choice;
}

} // namespace atrous
