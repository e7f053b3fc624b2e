// SPDX-License-Identifier: Apache-2.0
// Purpose: `atrous synth`: the demo's synthetic scene and its ground truth as GeoTIFFs (training
// data for the demo model, tools/train.py, and test scenes).
#include "pipeline/cli/subcommand.hpp"
#include "stages/read/synthetic_scene.hpp"

#include <iostream>

namespace atrous::cli
{
namespace
{

class SynthCommand final : public Subcommand
{
public:
    CLI::App* declare(CLI::App& app, CommonOptions&) override
    {
        CLI::App* cmd = app.add_subcommand(
            "synth", "Write a synthetic georeferenced scene and its ground-truth mask (GeoTIFFs)");
        m_size = m_options.width;
        cmd->add_option("--out", m_out, "Scene GeoTIFF to write")->required();
        cmd->add_option("--truth", m_truth, "Ground-truth GeoTIFF (uint8 0/1)")->required();
        cmd->add_option("--size", m_size, "Scene edge in pixels")
            ->check(CLI::Range(16, 1 << 16))
            ->capture_default_str();
        cmd->add_option("--seed", m_options.seed, "Random seed (the demo uses 1)")
            ->capture_default_str();
        cmd->add_option("--bands", m_options.bands, "Band count")
            ->check(CLI::Range(1, 64))
            ->capture_default_str();
        return cmd;
    }

    int execute(const CommonOptions&) override
    {
        m_options.width = m_options.height = m_size;
        write_synthetic_scene(m_options, m_out, m_truth);
        std::cout << "wrote " << m_out << " and " << m_truth << "\n";
        return 0;
    }

private:
    SyntheticSceneOptions m_options;
    std::string m_out;
    std::string m_truth;
    int m_size = 0;
};

} // namespace

std::unique_ptr<Subcommand> make_synth_command()
{
    return std::make_unique<SynthCommand>();
}

} // namespace atrous::cli
