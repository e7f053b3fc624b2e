// SPDX-License-Identifier: Apache-2.0
// Purpose: the `atrous` command line: the app, GDAL-style option spellings, help and version, and
// the dispatch to the subcommand parsed (one file each: pipeline/cli/*_command.cpp).
#include "cli.hpp"

#include "pipeline/cli/subcommand.hpp"
#include "pipeline/version.hpp"
#include "stages/error.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <iostream>

namespace atrous::cli
{
namespace
{

/// CLI11 takes no multi-letter single-dash options: GDAL's -of, -co, -lco and -dsco after
/// `export` become --of, ... (CLI11 wants the arguments in reverse order).
std::vector<std::string> gdal_style_arguments(int argc, char** argv)
{
    std::vector<std::string> args;
    bool in_export = false;
    for (int i = 1; i < argc; ++i)
    {
        std::string a = argv[i];
        in_export = in_export || a == "export";
        if (in_export && (a == "-of" || a == "-co" || a == "-lco" || a == "-dsco"))
            a = "-" + a;
        args.push_back(std::move(a));
    }
    std::reverse(args.begin(), args.end());
    return args;
}

} // namespace

LogFormat log_format_of(const CommonOptions& o)
{
    if (o.quiet)
        return LogFormat::quiet;
    if (o.log_format == "bar")
        return LogFormat::bar;
    if (o.log_format == "plain")
        return LogFormat::plain;
    return detect_log_format();
}

void add_common(CLI::App& app, CommonOptions& o)
{
    app.add_flag("-q,--quiet", o.quiet, "Print errors only");
    app.add_option("--log-format", o.log_format,
                   "Progress: bar (live line), plain (one line per interval, for batch logs); "
                   "default: bar on a terminal, else plain")
        ->check(CLI::IsMember({"auto", "bar", "plain"}));
    app.add_flag("--debug", o.debug, "Let exceptions propagate (for a debugger)");
}

std::vector<std::unique_ptr<Subcommand>> subcommands()
{
    std::vector<std::unique_ptr<Subcommand>> all;
    all.push_back(make_run_command());
    all.push_back(make_info_command());
    all.push_back(make_demo_command());
    all.push_back(make_export_command());
    all.push_back(make_preview_command());
    all.push_back(make_keys_command());
    all.push_back(make_synth_command());
    return all;
}

bool wants_debug(int argc, char** argv)
{
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], "--debug") == 0)
            return true;
    return false;
}

int run(int argc, char** argv)
{
    CLI::App app{"atrous: tiled dilated U-Net segmentation of huge rasters", "atrous"};
    app.set_version_flag("--version", std::string(version()));
    app.require_subcommand(1);

    CommonOptions common;
    std::vector<std::unique_ptr<Subcommand>> commands = subcommands();
    std::vector<CLI::App*> declared;
    for (const auto& command : commands)
        declared.push_back(command->declare(app, common));

    try
    {
        std::vector<std::string> args = gdal_style_arguments(argc, argv);
        app.parse(args);
    }
    catch (const CLI::CallForHelp&)
    {
        std::cout << app.help();
        return 0;
    }
    catch (const CLI::CallForAllHelp&)
    {
        std::cout << app.help("", CLI::AppFormatMode::All);
        return 0;
    }
    catch (const CLI::CallForVersion&)
    {
        std::cout << version_report();
        return 0;
    }
    catch (const CLI::ParseError& e)
    {
        // Help asked of a subcommand arrives here too, as CallForHelp from the subcommand.
        if (e.get_exit_code() == 0)
        {
            for (const CLI::App* sub : app.get_subcommands())
            {
                std::cout << sub->help();
                return 0;
            }
            std::cout << app.help();
            return 0;
        }
        throw ConfigError("command line", fmt::format("{} (see atrous --help)", e.what()));
    }

    for (std::size_t i = 0; i < commands.size(); ++i)
    {
        if (declared[i]->parsed())
            return commands[i]->execute(common);
    }
    return 0;
}

} // namespace atrous::cli
