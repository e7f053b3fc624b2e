// SPDX-License-Identifier: Apache-2.0
// Purpose: one `atrous` subcommand (one file each, pipeline/cli/*_command.cpp): it declares its
// options on the CLI11 app, then runs when the command line named it.
#pragma once

#include "pipeline/run/progress.hpp"

#include <CLI/CLI.hpp>

#include <memory>
#include <vector>

namespace atrous::cli
{

/// Options every subcommand that logs takes: --quiet, --log-format, --debug.
struct CommonOptions
{
    bool quiet = false;
    std::string log_format = "auto";
    bool debug = false;
};

/// The log format the options ask for (auto: bar on a terminal, else plain).
LogFormat log_format_of(const CommonOptions& o);

/// Adds --quiet, --log-format and --debug to a subcommand.
void add_common(CLI::App& app, CommonOptions& o);

class Subcommand
{
public:
    virtual ~Subcommand() = default;
    /// Adds the subcommand and its options to `app`; the options it shares bind to `common`.
    /// The subcommand holds the values its options bind to, so it must outlive the parse.
    virtual CLI::App* declare(CLI::App& app, CommonOptions& common) = 0;
    /// Runs the parsed subcommand; returns the exit status, throws atrous::Error.
    virtual int execute(const CommonOptions& common) = 0;
};

/// Every subcommand, in the order `atrous --help` lists them.
std::vector<std::unique_ptr<Subcommand>> subcommands();

std::unique_ptr<Subcommand> make_run_command();
std::unique_ptr<Subcommand> make_info_command();
std::unique_ptr<Subcommand> make_demo_command();
std::unique_ptr<Subcommand> make_export_command();
std::unique_ptr<Subcommand> make_preview_command();
std::unique_ptr<Subcommand> make_keys_command();
std::unique_ptr<Subcommand> make_synth_command();

} // namespace atrous::cli
