// SPDX-License-Identifier: Apache-2.0
// Purpose: the report part of a run: whether the output is complete (or why not: interrupted,
// incomplete), and the run report assembled from any executor's result, summed and gathered over
// the ranks.
#pragma once

#include "pipeline/run/checkpoint.hpp"
#include "pipeline/run/executor.hpp"
#include "pipeline/run/interrupt_watch.hpp"
#include "pipeline/run/run_plan.hpp"
#include "stages/communicator.hpp"
#include "stages/stage.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace atrous
{

/// One rank's share of a run (the report gathers every rank's on rank 0).
struct RankStats
{
    int rank = 0;
    long long tiles = 0;         // tiles this rank computed
    long long empty_tiles = 0;   // of which empty (nodata core: not inferred)
    long long cores_written = 0; // output blocks (tile cores) this rank wrote
    double seconds = 0;          // wall time of its tile loop
    double busy_seconds = 0;     // read + infer + stitch + write, summed over its threads
    double infer_seconds = 0;    // of which inference
    double write_seconds = 0;    // of which writing (blocks, progress, closing, publishing)
    double wait_seconds = 0;     // waiting for rank 0's dispenser
    double progress_seconds = 0; // recording progress (fsync + tile_done marks)
    long long shares_sent = 0;   // stitch blend: shares sent to other ranks' cores
    double peak_rss_mb = 0;
};

struct RunReport
{
    long long tiles = 0;       // tiles in the grid (all written)
    long long empty_tiles = 0; // tiles skipped because all of their core was nodata
    double seconds = 0;        // wall time of the tile loop
    double gflop = 0;          // work done by the network: the tiles inferred (not empty ones)
    std::filesystem::path output;
    // For the run report: seconds summed over the tiles per stage (read and infer run on several
    // threads, so their sums may exceed the wall time), image size, threads used.
    double read_seconds = 0;
    double infer_seconds = 0;
    double stitch_seconds = 0;
    double write_seconds = 0; // block writes and the final flush/rename
    long long pixels = 0;     // width * height of the input
    int threads = 1;
    std::filesystem::path input;
    long long resumed_tiles = 0; // tiles already in a resumed partial output
    bool nothing_to_do = false;  // the output was already complete with the same fingerprint
    long long rank_tiles = 0;    // tiles this rank computed (MPI: its share)
    int ranks = 1;               // MPI ranks of the run
    double progress_seconds = 0; // recording progress (part of write_seconds), this rank
    /// tile.executor ("tiles", "stream"), and for stream the FLOPs computed / one whole-image
    /// pass (0: not counted).
    std::string executor = "tiles";
    double flop_ratio = 0;
    /// Every rank's stats, by rank (gathered on rank 0; other ranks hold only their own).
    std::vector<RankStats> per_rank;
};

/// The report of a run whose output already held every tile.
RunReport nothing_to_do_report(const RunPlan& plan, const Checkpoint& checkpoint, int ranks);

/// After an executor: throws InterruptedError (a rank saw a signal and tiles are missing:
/// "interrupted by SIGTERM: ... run the same command again to resume") or OutputError (naming the
/// writer: "<output>.partial: incomplete, N of M tiles written") unless every tile is in the
/// published output; then returns the report: totals summed over the ranks, every rank's
/// RankStats gathered on rank 0. Collective: every rank calls it.
RunReport finish_report(const RunPlan& plan, const Checkpoint& checkpoint,
                        const ExecutionResult& result, const Writer& writer,
                        const InterruptWatch& watch, Communicator& comm);

} // namespace atrous
