// SPDX-License-Identifier: Apache-2.0
// Purpose: the `atrous` command line: argument declarations and the dispatch to run/info/demo.
#include "cli.hpp"

#include "pipeline/config.hpp"
#include "pipeline/demo.hpp"
#include "pipeline/export.hpp"
#include "pipeline/interrupt_watch.hpp"
#include "pipeline/mpi_session.hpp"
#include "pipeline/preview.hpp"
#include "pipeline/progress.hpp"
#include "pipeline/run_report.hpp"
#include "pipeline/runner.hpp"
#include "pipeline/tile_plan.hpp"
#include "pipeline/usable_cpus.hpp"
#include "pipeline/version.hpp"
#include "stages/error.hpp"
#include "stages/infer/engine/model_report.hpp"
#include "stages/infer/import/architecture.hpp"
#include "stages/infer/import/keras_h5.hpp"
#include "stages/read/synthetic_scene.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <iostream>

namespace atrous::cli
{
namespace
{

namespace fs = std::filesystem;

struct CommonOptions
{
    bool quiet = false;
    std::string log_format = "auto";
    bool debug = false;
};

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

int do_run(const fs::path& config_file, const std::vector<std::string>& sets,
           const CommonOptions& common, bool restart, bool force, bool preview)
{
    // mpirun / srun --mpi=pmix: one process per rank; a plain run never initializes MPI.
    const MpiSession mpi;
    // Signals never kill a run: until the runner watches them, and after it returns (report,
    // quick look), they are noted and the run ends normally.
    const InterruptWatch watch;
    // Rank 0 speaks for the job; the others print errors only.
    const LogFormat format = mpi.rank() == 0 ? log_format_of(common) : LogFormat::quiet;
    auto log = make_logger(format);
    RunConfig config = load_config(config_file, sets);
    config.output.restart = restart;
    config.output.force = force;
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

int do_info(const std::string& model_arg, std::optional<int> tile, const std::string& config_arg,
            const std::vector<std::string>& sets, bool json)
{
    InferOptions options;
    std::optional<int> tile_size = tile;
    std::optional<int> halo;
    if (!config_arg.empty())
    {
        const RunConfig c = load_config(config_arg, sets);
        options = c.model;
        if (!tile_size)
            tile_size = c.tile.size;
        halo = c.tile.halo_px;
    }
    else if (!sets.empty())
    {
        throw ConfigError("--set", "only with --config");
    }
    if (!model_arg.empty())
        options.weights = model_arg;

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

    if (json)
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

bool wants_debug(int argc, char** argv)
{
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], "--debug") == 0)
            return true;
    return false;
}

/// CLI11 takes no multi-letter single-dash options: GDAL's -of, -co, -lco and -dsco after
/// `export` become --of, ... (CLI11 wants the arguments in reverse order).
static std::vector<std::string> gdal_style_arguments(int argc, char** argv)
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

int run(int argc, char** argv)
{
    CLI::App app{"atrous: tiled dilated U-Net segmentation of huge rasters", "atrous"};
    app.set_version_flag("--version", std::string(version()));
    app.require_subcommand(1);

    CommonOptions common;

    CLI::App* run_cmd = app.add_subcommand("run", "Segment the raster a YAML configuration names");
    std::string config_file;
    std::vector<std::string> sets;
    run_cmd->add_option("config", config_file, "Configuration (YAML)")->required();
    run_cmd->add_option("--set", sets, "Override a key: --set tile.size=512 (value is YAML)")
        ->allow_extra_args(false);
    bool restart = false;
    run_cmd->add_flag("--restart", restart,
                      "Discard <output>.partial left by an earlier run instead of resuming it "
                      "(and recompute a complete output, or replace one of a different run)");
    bool force = false;
    run_cmd->add_flag("--force", force,
                      "Replace an existing output.path even when it is not an atrous output (never "
                      "a link, directory, device, FIFO or socket)");
    bool no_preview = false;
    run_cmd->add_flag("--no-preview", no_preview, "Do not write the quick-look <output stem>.png");
    add_common(*run_cmd, common);

    CLI::App* info_cmd =
        app.add_subcommand("info", "Describe a model: layers, shapes, parameters, GFLOP per tile");
    std::string model_file;
    std::optional<int> tile;
    std::string info_config;
    std::vector<std::string> info_sets;
    info_cmd->add_option("model", model_file,
                         "Keras HDF5 model (default: the config's, else the built-in U-Net)");
    info_cmd->add_option("--tile", tile, "Tile size (core pixels); default the config's or 256")
        ->check(CLI::PositiveNumber);
    info_cmd->add_option("--config", info_config,
                         "Configuration: model.architecture, tile.size, tile.halo");
    info_cmd->add_option("--set", info_sets, "Override a key of --config")->allow_extra_args(false);
    info_cmd->add_flag("--debug", common.debug, "Let exceptions propagate");
    bool info_json = false;
    info_cmd->add_flag("--json", info_json, "Print the same information as JSON");

    CLI::App* demo_cmd =
        app.add_subcommand("demo", "Segment a synthetic georeferenced scene (no data needed)");
    DemoOptions demo;
    std::string demo_out = demo.out.string();
    demo_cmd->add_option("--out", demo_out, "Output directory")->capture_default_str();
    demo_cmd->add_option("--size", demo.size, "Scene edge in pixels")
        ->check(CLI::Range(16, 1 << 16))
        ->capture_default_str();
    demo_cmd->add_option("--threads", demo.threads, "Threads (default: all cores)")
        ->check(CLI::Range(0, max_threads));
    add_common(*demo_cmd, common);

    CLI::App* export_cmd = app.add_subcommand(
        "export", "Export an output's mask or probabilities through GDAL (GeoTIFF, COG, Zarr, any "
                  "raster driver), the mask's polygons (GPKG, FlatGeobuf, any vector driver)");
    ExportOptions export_options;
    std::string export_in, export_to, export_polygons;
    export_cmd->add_option("output", export_in, "atrous HDF5 output")->required();
    export_cmd->add_option("--to", export_to, "Raster to write (format: -of, else by extension)");
    export_cmd->add_option("--what", export_options.what, "What to export")
        ->check(CLI::IsMember({"mask", "probability"}))
        ->capture_default_str();
    // GDAL's own spellings (-of, -co, -lco, -dsco) are rewritten to --of, ... before parsing.
    export_cmd->add_option("--of", export_options.raster_format,
                           "-of: raster format, a GDAL driver (as gdal_translate -of; default: by "
                           "the extension, else GTiff)");
    export_cmd
        ->add_option("--co", export_options.creation_options,
                     "-co: raster creation option NAME=VALUE (as gdal_translate -co; "
                     "repeatable)")
        ->allow_extra_args(false);
    export_cmd->add_flag("--cog", export_options.cog, "Cloud Optimized GeoTIFF (= -of COG)");
    export_cmd->add_option("--polygons", export_polygons,
                           "Vector file of the mask's polygons (layer mask, field class)");
    export_cmd->add_option("-f,--format", export_options.vector_format,
                           "Vector format, a GDAL driver (as ogr2ogr -f; default: by the "
                           "extension, else GPKG)");
    export_cmd
        ->add_option("--lco", export_options.layer_options,
                     "-lco: layer creation option NAME=VALUE (as ogr2ogr -lco; repeatable)")
        ->allow_extra_args(false);
    export_cmd
        ->add_option("--dsco", export_options.dataset_options,
                     "-dsco: vector dataset creation option NAME=VALUE (as ogr2ogr -dsco)")
        ->allow_extra_args(false);
    export_cmd->add_flag("--skip-background", export_options.skip_background,
                         "No polygons of class 0");
    export_cmd
        ->add_option("--config", export_options.config,
                     "GDAL configuration option KEY VALUE (as in gdal_translate; "
                     "repeatable)")
        ->allow_extra_args(false);
    export_cmd->add_flag("--allow-partial", export_options.allow_partial,
                         "Export an unfinished .partial output (unwritten tiles are nodata)");
    add_common(*export_cmd, common);

    CLI::App* preview_cmd = app.add_subcommand(
        "preview", "Write a quick-look PNG of an output (input stretched, mask overlaid)");
    PreviewOptions preview_options;
    std::string preview_in, preview_out, preview_input;
    preview_cmd->add_option("output", preview_in, "atrous HDF5 output")->required();
    preview_cmd->add_option("--out", preview_out, "PNG to write (default: <output stem>.png)");
    preview_cmd->add_option("--input", preview_input,
                            "Input raster (default: input.path recorded in the output)");
    preview_cmd->add_option("--size", preview_options.max_side, "Long side in pixels")
        ->check(CLI::Range(16, 16384))
        ->capture_default_str();
    preview_cmd->add_flag("--allow-partial", preview_options.allow_partial,
                          "Draw an incomplete output (a .partial file) too; its missing tiles "
                          "show as nodata");
    add_common(*preview_cmd, common);

    CLI::App* keys_cmd =
        app.add_subcommand("keys", "Print every configuration key (Markdown table)");

    // Training data for the demo model (tools/train.py) and test scenes: the demo's generator.
    CLI::App* synth_cmd = app.add_subcommand(
        "synth", "Write a synthetic georeferenced scene and its ground-truth mask (GeoTIFFs)");
    SyntheticSceneOptions synth;
    std::string synth_out;
    std::string synth_truth;
    int synth_size = synth.width;
    synth_cmd->add_option("--out", synth_out, "Scene GeoTIFF to write")->required();
    synth_cmd->add_option("--truth", synth_truth, "Ground-truth GeoTIFF (uint8 0/1)")->required();
    synth_cmd->add_option("--size", synth_size, "Scene edge in pixels")
        ->check(CLI::Range(16, 1 << 16))
        ->capture_default_str();
    synth_cmd->add_option("--seed", synth.seed, "Random seed (the demo uses 1)")
        ->capture_default_str();
    synth_cmd->add_option("--bands", synth.bands, "Band count")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();

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

    if (run_cmd->parsed())
        return do_run(config_file, sets, common, restart, force, !no_preview);
    if (info_cmd->parsed())
        return do_info(model_file, tile, info_config, info_sets, info_json);
    if (demo_cmd->parsed())
    {
        demo.out = demo_out;
        const LogFormat format = log_format_of(common);
        auto log = make_logger(format);
        run_demo(demo, *log, format);
        return 0;
    }
    if (export_cmd->parsed())
    {
        export_options.input = export_in;
        export_options.to = export_to;
        export_options.polygons = export_polygons;
        auto log = make_logger(log_format_of(common));
        export_output(export_options, *log);
        return 0;
    }
    if (preview_cmd->parsed())
    {
        preview_options.output = preview_in;
        preview_options.png = preview_out;
        preview_options.input = preview_input;
        auto log = make_logger(log_format_of(common));
        const PreviewResult pr = write_preview(preview_options, *log);
        log->info("preview: {} ({} x {} px{})", pr.png.string(), pr.width, pr.height,
                  pr.with_image ? "" : ", mask only");
        return 0;
    }
    if (synth_cmd->parsed())
    {
        synth.width = synth.height = synth_size;
        write_synthetic_scene(synth, synth_out, synth_truth);
        std::cout << "wrote " << synth_out << " and " << synth_truth << "\n";
        return 0;
    }
    if (keys_cmd->parsed())
    {
        std::cout << config_keys_markdown();
        return 0;
    }
    return 0;
}

} // namespace atrous::cli
