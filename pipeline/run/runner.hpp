// SPDX-License-Identifier: Apache-2.0
// Purpose: one run, as a facade over its parts (pipeline/run/): prepare the stages (bad input
// fails before any work and before an output file exists), plan, checkpoint, execute (the tile
// pipeline or the stream), report.
#pragma once

#include "pipeline/config/config.hpp"
#include "pipeline/run/progress.hpp"
#include "pipeline/run/run_outcome.hpp"
#include "stages/communicator.hpp"
#include "stages/stage.hpp"
#include "stages/write/write_options.hpp"

#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

namespace atrous
{

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
    /// (pipeline/comm/blend_exchange) and writes it. `comm` must outlive the runner.
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
