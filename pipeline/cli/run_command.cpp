// SPDX-License-Identifier: Apache-2.0
// Purpose: `atrous run CONFIG.yaml`: one run (under MPI one rank of it), then the run report and
// the quick look on rank 0.
#include "pipeline/cli/subcommand.hpp"
#include "pipeline/comm/mpi_session.hpp"
#include "pipeline/config/config.hpp"
#include "pipeline/config/usable_cpus.hpp"
#include "pipeline/products/preview.hpp"
#include "pipeline/products/run_report.hpp"
#include "pipeline/run/interrupt_watch.hpp"
#include "pipeline/run/runner.hpp"
#include "stages/error.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

namespace atrous::cli
{
namespace
{

namespace fs = std::filesystem;

class RunCommand final : public Subcommand
{
public:
    CLI::App* declare(CLI::App& app, CommonOptions& common) override
    {
        CLI::App* cmd = app.add_subcommand("run", "Segment the raster a YAML configuration names");
        cmd->add_option("config", m_config_file, "Configuration (YAML)")->required();
        cmd->add_option("--set", m_sets, "Override a key: --set tile.size=512 (value is YAML)")
            ->allow_extra_args(false);
        cmd->add_flag("--restart", m_restart,
                      "Discard <output>.partial left by an earlier run instead of resuming it "
                      "(and recompute a complete output, or replace one of a different run)");
        cmd->add_flag("--force", m_force,
                      "Replace an existing output.path even when it is not an atrous output (never "
                      "a link, directory, device, FIFO or socket)");
        cmd->add_flag("--no-preview", m_no_preview,
                      "Do not write the quick-look <output stem>.png");
        add_common(*cmd, common);
        return cmd;
    }

    int execute(const CommonOptions& common) override;

private:
    std::string m_config_file;
    std::vector<std::string> m_sets;
    bool m_restart = false;
    bool m_force = false;
    bool m_no_preview = false;
};

int RunCommand::execute(const CommonOptions& common)
{
    const bool preview = !m_no_preview;
    // mpirun / srun --mpi=pmix: one process per rank; a plain run never initializes MPI.
    const MpiSession mpi;
    // Signals never kill a run: until the runner watches them, and after it returns (report,
    // quick look), they are noted and the run ends normally.
    const InterruptWatch watch;
    // Rank 0 speaks for the job; the others print errors only.
    const LogFormat format = mpi.rank() == 0 ? log_format_of(common) : LogFormat::quiet;
    auto log = make_logger(format);
    RunConfig config = load_config(fs::path(m_config_file), m_sets);
    config.output.restart = m_restart;
    config.output.force = m_force;
    config.model.diagnose_non_finite = common.debug;
    if (mpi.size() > 1 && config.runtime.threads_from.starts_with("all cores"))
    {
        // Every core would be claimed by every rank of the node: share them.
        const int cpus = usable_cpus().count;
        config.runtime.threads = std::max(1, cpus / mpi.local_size());
        config.runtime.threads_from =
            fmt::format("{} cores / {} ranks on this node", cpus, mpi.local_size());
    }
    Runner runner(std::move(config), *log, format);
    runner.set_communicator(mpi.communicator());
    runner.set_preview(preview);
    RunReport r;
    try
    {
        r = runner.run();
    }
    catch (const InterruptedError& e)
    {
        // Every rank gets here together: finish MPI normally, exit 75 (requeue and resume).
        std::fflush(stdout);
        if (mpi.rank() == 0 && !common.quiet)
            fmt::print(stderr, "atrous: {}\n", e.what());
        return e.exit_code();
    }
    if (r.nothing_to_do)
        return 0;
    log->info("done: {} tiles ({} empty) in {:.1f} s, {:.2f} tiles/s, {:.1f} GFLOP/s; wrote {}",
              r.tiles - r.resumed_tiles, r.empty_tiles, r.seconds,
              r.seconds > 0 ? static_cast<double>(r.tiles - r.resumed_tiles) / r.seconds : 0.0,
              r.seconds > 0 ? r.gflop / r.seconds : 0.0, r.output.string());
    if (mpi.size() > 1 && !common.quiet)
    {
        std::fflush(stdout);
        fmt::print("rank {}/{}: {} tiles in {:.1f} s, {:.2f} tiles/s\n", mpi.rank(), mpi.size(),
                   r.rank_tiles, r.seconds,
                   r.seconds > 0 ? static_cast<double>(r.rank_tiles) / r.seconds : 0.0);
        std::fflush(stdout);
    }
    if (mpi.rank() != 0)
        return 0; // the report and the quick look are rank 0's
    try
    {
        const fs::path report = default_report_path(r.output);
        write_run_report(r, report);
        log->info("report: {}", report.string());
    }
    catch (const Error& e)
    {
        log->warn("report not written: {}", e.what());
    }
    if (preview)
    {
        // The quick look is a convenience: its failure does not fail the finished run.
        try
        {
            PreviewOptions p;
            p.output = r.output;
            const PreviewResult pr = write_preview(p, *log);
            log->info("preview: {} ({} x {} px)", pr.png.string(), pr.width, pr.height);
        }
        catch (const Error& e)
        {
            log->warn("preview not written: {}", e.what());
        }
    }
    return 0;
}

} // namespace

std::unique_ptr<Subcommand> make_run_command()
{
    return std::make_unique<RunCommand>();
}

} // namespace atrous::cli
