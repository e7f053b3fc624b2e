// SPDX-License-Identifier: Apache-2.0
// Purpose: one run: builds the four stages from a RunConfig, prepares them all (bad input fails
// before any work and before an output file exists), then moves the tiles through
// read -> infer -> stitch -> write on a TBB pipeline.
#pragma once

#include "stages/communicator.hpp"
#include "pipeline/config.hpp"
#include "pipeline/progress.hpp"
#include "stages/stage.hpp"
#include "stages/write/write_options.hpp"

#include <filesystem>
#include <functional>
#include <memory>
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

/// Builds the writer; the default is make_hdf5_writer. Tests substitute an in-memory one.
using WriterFactory =
    std::function<std::unique_ptr<Writer>(const WriteOptions&, const OutputLayout&)>;

class Runner
{
public:
    /// `log` must outlive the runner. `format` drives the progress line.
    Runner(RunConfig config, spdlog::logger& log, LogFormat format);

    void set_writer_factory(WriterFactory factory) { m_writer_factory = std::move(factory); }
    /// Whether the caller writes the quick-look "<output stem>.png" after the run (default: yes):
    /// its name is then checked with the output's before any work.
    void set_preview(bool preview) { m_preview = preview; }
    /// The run's ranks (default: this process alone). Several ranks share the tiles (handed out
    /// one at a time by rank 0) and write one file through MPI-IO; with stitch blend each core is
    /// owned by one rank (BlendStitcher::owner), which receives the other ranks' shares of it
    /// (pipeline/blend_exchange) and writes it. `comm` must outlive the runner.
    void set_communicator(Communicator& comm)
    {
        m_comm = &comm;
        m_rank = comm.rank();
        m_ranks = comm.size();
    }

    /// Runs to completion and returns only when the output is complete; throws the stages'
    /// errors (ConfigError, InputError, ModelError, OutputError) otherwise, and InterruptedError
    /// when SIGTERM/SIGINT/SIGUSR1 stopped it (tiles in flight finished, progress recorded).
    /// Resumes "<output>.partial" left by the same run (same fingerprint): only the tiles not yet
    /// done are computed (blend: also their neighbours, whose predictions are not stored). Uses at
    /// most runtime.threads threads (tbb::global_control while it runs); memory is bounded by the
    /// tiles in flight (about min(threads, 8)).
    RunReport run();

private:
    RunConfig m_config;
    spdlog::logger& m_log;
    LogFormat m_format;
    WriterFactory m_writer_factory;
    SoloCommunicator m_solo;
    Communicator* m_comm = &m_solo;
    int m_rank = 0;
    int m_ranks = 1;
    bool m_preview = true;
};

} // namespace atrous
