// SPDX-License-Identifier: Apache-2.0
// Purpose: the completeness check after an executor and the run report, the same for every
// executor.
#include "run_outcome.hpp"

#include "pipeline/products/run_report.hpp"
#include "stages/error.hpp"

#include <fmt/format.h>

#include <array>
#include <cmath>

namespace atrous
{
namespace
{

/// Every rank's stats on rank 0 (by rank); the other ranks get their own only.
std::vector<RankStats> gather_stats(const RankStats& mine, Communicator& comm)
{
    constexpr int n = 11;
    const std::array<double, n> v{static_cast<double>(mine.tiles),
                                  static_cast<double>(mine.empty_tiles),
                                  static_cast<double>(mine.cores_written),
                                  mine.seconds,
                                  mine.busy_seconds,
                                  mine.wait_seconds,
                                  mine.progress_seconds,
                                  static_cast<double>(mine.shares_sent),
                                  mine.peak_rss_mb,
                                  mine.infer_seconds,
                                  mine.write_seconds};
    const int ranks = comm.size();
    if (ranks <= 1)
        return {mine};
    const std::vector<double> all = comm.gather(v, 0);
    if (comm.rank() != 0)
        return {mine};
    std::vector<RankStats> out;
    for (int r = 0; r < ranks; ++r)
    {
        const double* x = all.data() + static_cast<std::size_t>(r) * n;
        RankStats s;
        s.rank = r;
        s.tiles = std::llround(x[0]);
        s.empty_tiles = std::llround(x[1]);
        s.cores_written = std::llround(x[2]);
        s.seconds = x[3];
        s.busy_seconds = x[4];
        s.wait_seconds = x[5];
        s.progress_seconds = x[6];
        s.shares_sent = std::llround(x[7]);
        s.peak_rss_mb = x[8];
        s.infer_seconds = x[9];
        s.write_seconds = x[10];
        out.push_back(s);
    }
    return out;
}

} // namespace

RunReport nothing_to_do_report(const RunPlan& plan, const Checkpoint& checkpoint, int ranks)
{
    RunReport report;
    report.tiles = plan.grid().count();
    report.output = plan.config().output.path;
    report.resumed_tiles = checkpoint.done_count();
    report.ranks = ranks;
    report.nothing_to_do = true;
    return report;
}

RunReport finish_report(const RunPlan& plan, const Checkpoint& checkpoint,
                        const ExecutionResult& result, const Writer& writer,
                        const InterruptWatch& watch, Communicator& comm)
{
    const long long count = plan.grid().count();
    const std::filesystem::path& partial = plan.partial_path();
    const bool interrupted = comm.any(result.interrupted);
    const long long total = checkpoint.done_count() + comm.sum(result.tiles_written);
    if (total != count || std::filesystem::exists(partial))
    {
        if (interrupted && total != count)
            throw InterruptedError(
                "run",
                fmt::format("interrupted by {}: {} of {} tiles done, progress saved in {}; "
                            "run the same command again to resume",
                            InterruptWatch::name(watch.signal()), total, count, partial.string()));
        throw OutputError(
            std::string(writer.name()),
            fmt::format("{}: incomplete, {} of {} tiles written", partial.string(), total, count));
    }
    RunReport report;
    report.tiles = count;
    report.output = plan.config().output.path;
    report.resumed_tiles = checkpoint.done_count();
    report.ranks = comm.size();
    report.executor = result.executor;
    // Stream: each rank's FLOPs / one whole pass, summed (segments re-warm: above 1 under MPI).
    report.flop_ratio = static_cast<double>(comm.sum(std::llround(result.flop_ratio * 1e9))) * 1e-9;
    report.empty_tiles = comm.sum(result.empty_tiles);
    report.rank_tiles = result.tiles_taken;
    report.seconds = result.seconds;
    // Empty tiles cost nothing; summed over ranks in kFLOP (the communicator sums integers).
    report.gflop = static_cast<double>(comm.sum(std::llround(result.gflop * 1e6))) * 1e-6;
    report.read_seconds = result.read_seconds;
    report.infer_seconds = result.infer_seconds;
    report.stitch_seconds = result.stitch_seconds;
    report.write_seconds = result.write_seconds;
    report.progress_seconds = writer.progress_seconds();
    report.pixels = static_cast<long long>(plan.grid().image_width) * plan.grid().image_height;
    report.threads = plan.threads();
    report.input = plan.config().input.path;
    RankStats mine;
    mine.rank = comm.rank();
    mine.tiles = result.tiles_taken;
    mine.empty_tiles = result.empty_tiles;
    mine.cores_written = result.tiles_written;
    mine.seconds = result.seconds;
    mine.busy_seconds = result.busy_seconds;
    mine.infer_seconds = result.infer_seconds;
    mine.write_seconds = result.write_seconds;
    mine.wait_seconds = result.wait_seconds;
    mine.progress_seconds = report.progress_seconds;
    mine.shares_sent = result.shares_sent;
    mine.peak_rss_mb = static_cast<double>(peak_rss_bytes()) / (1024.0 * 1024.0);
    report.per_rank = gather_stats(mine, comm);
    return report;
}

} // namespace atrous
