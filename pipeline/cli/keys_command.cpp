// SPDX-License-Identifier: Apache-2.0
// Purpose: `atrous keys`: every configuration key as the README's Markdown table.
#include "pipeline/cli/subcommand.hpp"
#include "pipeline/config/config.hpp"

#include <iostream>

namespace atrous::cli
{
namespace
{

class KeysCommand final : public Subcommand
{
public:
    CLI::App* declare(CLI::App& app, CommonOptions&) override
    {
        return app.add_subcommand("keys", "Print every configuration key (Markdown table)");
    }

    int execute(const CommonOptions&) override
    {
        std::cout << config_keys_markdown();
        return 0;
    }
};

} // namespace

std::unique_ptr<Subcommand> make_keys_command()
{
    return std::make_unique<KeysCommand>();
}

} // namespace atrous::cli
