// SPDX-License-Identifier: Apache-2.0
// Purpose: the execute part of a run: an Executor computes the tiles a checkpoint needs through
// the prepared stages and writes their cores. Two exist, chosen by tile.executor (auto: the stream
// where it can run): tiles (the TBB tile pipeline) and stream (whole-image bands); checkpoint and
// report know neither, the plan only which one runs.
#pragma once

#include "pipeline/run/checkpoint.hpp"
#include "pipeline/run/interrupt_watch.hpp"
#include "pipeline/run/progress.hpp"
#include "pipeline/run/run_plan.hpp"
#include "stages/communicator.hpp"
#include "stages/stage.hpp"

#include <memory>
#include <string>

namespace atrous
{

/// The run's four stages, prepared.
struct RunStages
{
    Reader& reader;
    const Inferer& inferer;
    Stitcher& stitcher;
    Writer& writer;
};

/// What an executor runs under.
struct ExecutionContext
{
    const RunContext& context;
    spdlog::logger& log;
    LogFormat format; // the progress line's
    const InterruptWatch& watch;
    Communicator& comm; // the run's ranks (one process: a solo communicator)
};

/// What one rank's execution did; pipeline/run/run_outcome turns it into the run report.
struct ExecutionResult
{
    std::string executor = "tiles"; // tile.executor
    long long tiles_taken = 0;      // tiles this rank computed (stream: the tiles it streamed)
    long long tiles_written = 0;    // output blocks (tile cores) this rank wrote
    long long empty_tiles = 0;      // of the tiles computed, those with an all-nodata core
    bool interrupted = false;       // this rank stopped taking tiles on a signal
    double seconds = 0;             // wall time of the tile loop
    double read_seconds = 0;        // per stage, summed over threads (see RunReport)
    double infer_seconds = 0;
    double stitch_seconds = 0;
    double write_seconds = 0; // block writes and finishing the writer
    double busy_seconds = 0;  // read + infer + stitch + write as the executor counts them
    double wait_seconds = 0;  // waiting for rank 0's dispenser
    double gflop = 0;         // network work this rank did
    long long shares_sent = 0;
    double flop_ratio = 0; // stream: FLOPs computed / one whole-image pass
};

class Executor
{
public:
    virtual ~Executor() = default;
    /// Computes checkpoint.needed() (an executor may compute more, never writing a done core
    /// again), writes the cores, then finishes the stitcher, the writer (collective under MPI)
    /// and the reader. Stops taking tiles when `run.watch` saw a signal. Throws the stages'
    /// errors; whether the output is complete is the caller's to judge.
    virtual ExecutionResult run(const RunPlan& plan, const Checkpoint& checkpoint,
                                RunStages& stages, const ExecutionContext& run) = 0;
};

/// The executor the plan chose (RunPlan::executor()).
std::unique_ptr<Executor> make_executor(const RunPlan& plan);

} // namespace atrous
