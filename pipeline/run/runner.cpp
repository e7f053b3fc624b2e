// SPDX-License-Identifier: Apache-2.0
// Purpose: the run as it reads: prepare the reader and the model, plan, build the stitcher and the
// writer, checkpoint, execute, report.
#include "runner.hpp"

#include "pipeline/run/checkpoint.hpp"
#include "pipeline/run/executor.hpp"
#include "pipeline/run/interrupt_watch.hpp"
#include "pipeline/run/output_guard.hpp"
#include "pipeline/run/run_outcome.hpp"
#include "pipeline/run/run_plan.hpp"
#include "stages/infer/infer_stage.hpp"
#include "stages/read/gdal_cache_plan.hpp"
#include "stages/read/make_reader.hpp"
#include "stages/stitch/make_stitcher.hpp"
#include "stages/write/make_writer.hpp"

#include <oneapi/tbb/global_control.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace atrous
{

Runner::Runner(RunConfig config, spdlog::logger& log, LogFormat format)
    : m_config(std::move(config)), m_log(log), m_format(format),
      m_writer_factory([](const WriteOptions& o, const OutputLayout& l)
                       { return make_hdf5_writer(o, l); })
{
}

RunReport Runner::run()
{
    const RunConfig& cfg = m_config;
    const int threads = std::max(1, cfg.runtime.threads);
    tbb::global_control parallelism(tbb::global_control::max_allowed_parallelism,
                                    static_cast<std::size_t>(threads));
    // From here on a signal only asks the run to stop taking tiles.
    const InterruptWatch watch;
    RunContext ctx;
    ctx.log = &m_log;
    ctx.threads = threads;
    ctx.rank = m_rank;
    ctx.ranks = m_ranks;
    ctx.comm = m_comm;

    // Prepare everything before any tile: each check fails here, before the output exists.
    std::unique_ptr<Reader> reader = make_gdal_reader(cfg.input);
    reader->prepare(ctx);
    const RasterInfo info = reader->info();
    if (m_rank == 0)
    {
        // Nothing this run creates may be a file it reads, under any spelling; the names of the
        // report and the quick look must be free for atrous (the writer checks its own).
        refuse_overwriting(files_created_by_run(cfg.output.path, m_preview),
                           files_read_by_run(info.path, cfg.model.placeholder_seed
                                                            ? std::filesystem::path()
                                                            : cfg.model.weights),
                           "output.path");
        check_side_files(cfg.output.path, m_preview);
    }
    InferStage inferer(cfg.model);
    inferer.prepare(ctx);
    inferer.check_input(info);
    check_executor(cfg, inferer.model());

    // Plan: the grid, each stage's view of it, the fingerprint; printed before any work.
    const RunPlan plan(cfg, info, inferer.model());
    apply_gdal_cache(plan.gdal_cache());
    plan.print_summary(m_log);

    std::unique_ptr<Stitcher> stitcher = make_stitcher(cfg.stitch, plan.stitch_geometry());
    stitcher->prepare(ctx);
    std::unique_ptr<Writer> writer = m_writer_factory(plan.write_options(), plan.output_layout());
    writer->prepare(ctx);

    // Checkpoint: the tiles already in the output are not computed again.
    const Checkpoint checkpoint(plan, *writer, *stitcher);
    if (checkpoint.complete())
    {
        writer->finish(ctx); // publishes a complete partial file; nothing when already published
        stitcher->finish(ctx);
        reader->finish(ctx);
        checkpoint.print(m_log, plan);
        return nothing_to_do_report(plan, checkpoint, m_ranks);
    }
    checkpoint.print(m_log, plan);

    // Execute, then report.
    RunStages stages{*reader, inferer, *stitcher, *writer};
    const ExecutionResult result =
        make_executor(plan)->run(plan, checkpoint, stages, {ctx, m_log, m_format, watch, *m_comm});
    return finish_report(plan, checkpoint, result, *writer, watch, *m_comm);
}

} // namespace atrous
