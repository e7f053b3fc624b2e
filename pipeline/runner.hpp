// SPDX-License-Identifier: Apache-2.0
// Purpose: one run: builds the four stages from a RunConfig, prepares them all (bad input fails
// before any work and before an output file exists), then moves the tiles through
// read -> infer -> stitch -> write on a TBB pipeline.
#pragma once

#include "pipeline/config.hpp"
#include "pipeline/progress.hpp"
#include "stages/stage.hpp"
#include "stages/write/write_options.hpp"

#include <filesystem>
#include <functional>
#include <memory>

namespace atrous
{

struct RunReport
{
    long long tiles = 0;       // tiles in the grid (all written)
    long long empty_tiles = 0; // tiles skipped because all of their core was nodata
    double seconds = 0;        // wall time of the tile loop
    double gflop = 0;          // work done by the network
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

    /// Runs to completion and returns only when the output is complete; throws the stages'
    /// errors (ConfigError, InputError, ModelError, OutputError) otherwise. Uses at most
    /// runtime.threads threads (tbb::global_control while it runs); memory is bounded by the
    /// tiles in flight (about min(threads, 8)).
    RunReport run();

private:
    RunConfig m_config;
    spdlog::logger& m_log;
    LogFormat m_format;
    WriterFactory m_writer_factory;
};

} // namespace atrous
