// SPDX-License-Identifier: Apache-2.0
// Purpose: `atrous preview OUTPUT`: the quick-look PNG of an output (pipeline/products/preview).
#include "pipeline/cli/subcommand.hpp"
#include "pipeline/products/preview.hpp"

#include <spdlog/spdlog.h>

namespace atrous::cli
{
namespace
{

class PreviewCommand final : public Subcommand
{
public:
    CLI::App* declare(CLI::App& app, CommonOptions& common) override
    {
        CLI::App* cmd = app.add_subcommand(
            "preview", "Write a quick-look PNG of an output (input stretched, mask overlaid)");
        cmd->add_option("output", m_in, "atrous HDF5 output")->required();
        cmd->add_option("--out", m_out, "PNG to write (default: <output stem>.png)");
        cmd->add_option("--input", m_input,
                        "Input raster (default: input.path recorded in the output)");
        cmd->add_option("--size", m_options.max_side, "Long side in pixels")
            ->check(CLI::Range(16, 16384))
            ->capture_default_str();
        cmd->add_flag("--allow-partial", m_options.allow_partial,
                      "Draw an incomplete output (a .partial file) too; its missing tiles "
                      "show as nodata");
        add_common(*cmd, common);
        return cmd;
    }

    int execute(const CommonOptions& common) override
    {
        m_options.output = m_in;
        m_options.png = m_out;
        m_options.input = m_input;
        auto log = make_logger(log_format_of(common));
        const PreviewResult pr = write_preview(m_options, *log);
        log->info("preview: {} ({} x {} px{})", pr.png.string(), pr.width, pr.height,
                  pr.with_image ? "" : ", mask only");
        return 0;
    }

private:
    PreviewOptions m_options;
    std::string m_in, m_out, m_input;
};

} // namespace

std::unique_ptr<Subcommand> make_preview_command()
{
    return std::make_unique<PreviewCommand>();
}

} // namespace atrous::cli
