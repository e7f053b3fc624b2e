// SPDX-License-Identifier: Apache-2.0
// Purpose: `atrous demo`: a synthetic georeferenced scene segmented end to end (pipeline/cli/demo).
#include "pipeline/cli/demo.hpp"
#include "pipeline/cli/subcommand.hpp"
#include "pipeline/config/usable_cpus.hpp"

#include <spdlog/spdlog.h>

namespace atrous::cli
{
namespace
{

class DemoCommand final : public Subcommand
{
public:
    CLI::App* declare(CLI::App& app, CommonOptions& common) override
    {
        CLI::App* cmd =
            app.add_subcommand("demo", "Segment a synthetic georeferenced scene (no data needed)");
        m_out = m_demo.out.string();
        cmd->add_option("--out", m_out, "Output directory")->capture_default_str();
        cmd->add_option("--size", m_demo.size, "Scene edge in pixels")
            ->check(CLI::Range(16, 1 << 16))
            ->capture_default_str();
        cmd->add_option("--threads", m_demo.threads, "Threads (default: all cores)")
            ->check(CLI::Range(0, max_threads));
        add_common(*cmd, common);
        return cmd;
    }

    int execute(const CommonOptions& common) override
    {
        m_demo.out = m_out;
        const LogFormat format = log_format_of(common);
        auto log = make_logger(format);
        run_demo(m_demo, *log, format);
        return 0;
    }

private:
    DemoOptions m_demo;
    std::string m_out;
};

} // namespace

std::unique_ptr<Subcommand> make_demo_command()
{
    return std::make_unique<DemoCommand>();
}

} // namespace atrous::cli
