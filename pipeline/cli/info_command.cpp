// SPDX-License-Identifier: Apache-2.0
// Purpose: `atrous info [MODEL]`: a model's layers, shapes, parameters and GFLOP for the window
// of a full tile, as text or JSON.
#include "pipeline/cli/subcommand.hpp"
#include "pipeline/config/config.hpp"
#include "pipeline/run/tile_plan.hpp"
#include "stages/error.hpp"
#include "stages/infer/engine/model_report.hpp"
#include "stages/infer/import/architecture.hpp"
#include "stages/infer/import/keras_h5.hpp"

#include <fmt/format.h>

#include <iostream>

namespace atrous::cli
{
namespace
{

class InfoCommand final : public Subcommand
{
public:
    CLI::App* declare(CLI::App& app, CommonOptions& common) override
    {
        CLI::App* cmd = app.add_subcommand(
            "info", "Describe a model: layers, shapes, parameters, GFLOP per tile");
        cmd->add_option("model", m_model_file,
                        "Keras HDF5 model (default: the config's, else the built-in U-Net)");
        cmd->add_option("--tile", m_tile, "Tile size (core pixels); default the config's or 256")
            ->check(CLI::PositiveNumber);
        cmd->add_option("--config", m_config,
                        "Configuration: model.architecture, tile.size, tile.halo");
        cmd->add_option("--set", m_sets, "Override a key of --config")->allow_extra_args(false);
        cmd->add_flag("--debug", common.debug, "Let exceptions propagate");
        cmd->add_flag("--json", m_json, "Print the same information as JSON");
        return cmd;
    }

    int execute(const CommonOptions& common) override;

private:
    std::string m_model_file;
    std::optional<int> m_tile;
    std::string m_config;
    std::vector<std::string> m_sets;
    bool m_json = false;
};

int InfoCommand::execute(const CommonOptions&)
{
    InferOptions options;
    std::optional<int> tile_size = m_tile;
    std::optional<int> halo;
    if (!m_config.empty())
    {
        const RunConfig c = load_config(m_config, m_sets);
        options = c.model;
        if (!tile_size)
            tile_size = c.tile.size;
        halo = c.tile.halo_px;
    }
    else if (!m_sets.empty())
    {
        throw ConfigError("--set", "only with --config");
    }
    if (!m_model_file.empty())
        options.weights = m_model_file;

    std::unique_ptr<infer::Model> model;
    std::string source;
    if (options.weights.empty())
    {
        // No file: the architecture of the config, or the seed U-Net, with random weights.
        const infer::Architecture arch =
            options.architecture.value_or(infer::Architecture(infer::UnetArchitecture{}));
        infer::BuildOptions build;
        build.initialize_missing_weights = true;
        model = std::make_unique<infer::Model>(infer::builtin_model_spec(arch), build);
        source = "built-in architecture (no weights file: weights are random)";
    }
    else
    {
        model = std::make_unique<infer::Model>(
            infer::load_keras_h5(options.weights, options.architecture));
        source = options.weights.string();
    }
    const auto& f = model->facts();
    // The shape a full tile of `atrous run` feeds the network: core + halo on both sides.
    const TilePlan plan({1 << 20, 1 << 20, f.spatial ? tile_size : std::nullopt, halo}, f);
    const Window w = plan.largest_window();
    const infer::Shape input{1, w.height, w.width, f.in_channels};

    if (m_json)
    {
        // The same facts as the text below, for scripts.
        nlohmann::json j = infer::model_report_json(*model, input);
        j["source"] = source;
        j["tile"] = {{"size", plan.tile_size()},
                     {"halo_px", plan.halo_px()},
                     {"halo_from", halo ? "tile.halo" : "exact"},
                     {"window", {w.height, w.width, f.in_channels}}};
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    std::cout << fmt::format("model {} from {}\n", model->name(), source);
    std::cout << fmt::format("tile {} px + halo {} px ({}) on each side -> input {} x {} x {}\n",
                             plan.tile_size(), plan.halo_px(), halo ? "tile.halo" : "exact",
                             w.height, w.width, f.in_channels);
    std::cout << infer::format_model_report(*model, input);
    return 0;
}

} // namespace

std::unique_ptr<Subcommand> make_info_command()
{
    return std::make_unique<InfoCommand>();
}

} // namespace atrous::cli
