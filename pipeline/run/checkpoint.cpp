// SPDX-License-Identifier: Apache-2.0
// Purpose: the done tiles from the writer, the needed tiles from the stitcher, the resume line.
#include "checkpoint.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>

namespace atrous
{

Checkpoint::Checkpoint(const RunPlan& plan, const Writer& writer, Stitcher& stitcher)
    : m_done(static_cast<std::size_t>(plan.grid().count()), 0)
{
    const long long count = plan.grid().count();
    for (const TileId id : writer.done_tiles())
    {
        if (id >= 0 && id < count && m_done[static_cast<std::size_t>(id)] == 0)
        {
            m_done[static_cast<std::size_t>(id)] = 1;
            ++m_done_count;
        }
    }
    if (!complete())
        m_needed = stitcher.resume(m_done);
}

void Checkpoint::print(spdlog::logger& log, const RunPlan& plan) const
{
    const std::filesystem::path& output = plan.config().output.path;
    if (complete())
        log.info("nothing to do: {} holds every tile of this run", output.string());
    else if (m_done_count > 0)
        log.info("  resume  {} of {} tiles already in {}; computing the other {}", m_done_count,
                 tile_count(), plan.partial_path().string(), tile_count() - m_done_count);
    else if (std::filesystem::exists(output))
        log.info("  note    {} exists; it is replaced only when this run completes",
                 output.string());
}

} // namespace atrous
