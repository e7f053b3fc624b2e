// SPDX-License-Identifier: Apache-2.0
// Purpose: `atrous demo` (see demo.hpp).
#include "demo.hpp"

#include "pipeline/config/config.hpp"
#include "pipeline/products/preview.hpp"
#include "pipeline/run/runner.hpp"
#include "stages/error.hpp"
#include "stages/read/synthetic_scene.hpp"
#include "stages/write/safe_file.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <fstream>

namespace atrous
{

namespace fs = std::filesystem;

namespace
{

bool holds_demo_config(const fs::path& dir)
{
    std::error_code ec;
    return fs::is_regular_file(dir / "configs" / "demo.yaml", ec);
}

} // namespace

fs::path data_dir()
{
    if (const char* env = std::getenv("ATROUS_DATA_DIR"); env != nullptr && *env != '\0')
        return fs::path(env);
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec)
    {
        const fs::path installed = exe.parent_path().parent_path() / "share" / "atrous";
        if (holds_demo_config(installed))
            return installed;
    }
    // The build tree: CMake passes the source directory (not __FILE__, which a compiler cache
    // may make relative).
    return fs::path(ATROUS_SOURCE_DIR);
}

void run_demo(const DemoOptions& options, spdlog::logger& log, LogFormat format)
{
    const fs::path config_file = data_dir() / "configs" / "demo.yaml";
    if (!fs::exists(config_file))
        throw ConfigError(config_file.string(),
                          "the demo configuration is missing (looked in $ATROUS_DATA_DIR, "
                          "<prefix>/share/atrous beside the binary, the source tree)");
    const fs::path out = fs::absolute(options.out).lexically_normal();
    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec)
        throw OutputError(out.string(), "cannot create the demo directory: " + ec.message());

    const fs::path scene = out / "scene.tif";
    const fs::path truth = out / "truth.tif";
    const fs::path mask = out / "mask.h5";
    const fs::path model_file = data_dir() / "models" / "demo.h5";
    const bool placeholder = !fs::exists(model_file);

    std::vector<std::string> overrides = {
        "input.path=" + scene.string(), "output.path=" + mask.string(),
        "model.weights=" + (placeholder ? std::string("PLACEHOLDER") : model_file.string())};
    if (options.threads)
        overrides.push_back(fmt::format("runtime.threads={}", *options.threads));
    RunConfig config = load_config(config_file, overrides);
    if (placeholder)
    {
        config.model.placeholder_seed = 1;
        log.warn("PLACEHOLDER MODEL: {} does not exist; running the built-in U-Net of "
                 "configs/demo.yaml with random weights: the mask is meaningless",
                 model_file.string());
    }

    SyntheticSceneOptions scene_options;
    scene_options.width = options.size;
    scene_options.height = options.size;
    scene_options.bands = 1;
    scene_options.seed = 1;
    // A corner without data shows nodata handling: its tiles are skipped and written as nodata.
    scene_options.nodata_region =
        SceneRect{options.size * 3 / 4, 0, options.size / 4, options.size / 4};
    scene_options.nodata_value = 0;
    log.info("demo: configuration {}, model {}", config_file.string(), model_file.string());
    log.info("demo: writing a {} x {} synthetic scene to {}", options.size, options.size,
             scene.string());
    // GDAL creates these itself: at least never through a link, never over a device or FIFO.
    safe_file::require_replaceable(scene, "demo");
    safe_file::require_replaceable(truth, "demo");
    write_synthetic_scene(scene_options, scene, truth);

    Runner runner(config, log, format);
    const RunReport report = runner.run();
    if (!placeholder)
    {
        const std::string head = "# atrous demo: the configuration used; rerun with\n";
        safe_file::write_atomically(out / "run.yaml",
                                    head + "#   atrous run " + (out / "run.yaml").string() + "\n" +
                                        config.normalized_yaml(),
                                    safe_file::empty_or_starting_with(head), "demo");
    }
    // The quick look is a convenience: its failure does not fail the finished demo.
    std::string preview_line;
    try
    {
        PreviewOptions preview;
        preview.output = mask;
        preview.input = scene;
        const PreviewResult pr = write_preview(preview, log);
        preview_line =
            fmt::format("  {:<10} quick look: the scene with the mask overlaid ({} x {} px)",
                        pr.png.filename().string(), pr.width, pr.height);
    }
    catch (const Error& e)
    {
        log.warn("demo: preview not written: {}", e.what());
    }
    log.info("demo: done in {:.1f} s; files in {}:", report.seconds, out.string());
    log.info("  scene.tif  the synthetic input (GeoTIFF, 1 band, nodata in the top-right corner)");
    log.info("  truth.tif  its ground-truth mask (1 = object)");
    log.info("  mask.h5    the segmentation: /mask (255 = nodata), /probability; inspect with");
    log.info("             gdalinfo HDF5:\"{}\"://mask", mask.string());
    if (!preview_line.empty())
    {
        log.info("{}", preview_line);
        log.info("             {}", default_preview_path(mask).string());
    }
    if (placeholder)
        log.warn("PLACEHOLDER MODEL: the mask is meaningless (no models/demo.h5 was built)");
    else
        log.info("  run.yaml   the configuration used: atrous run {}", (out / "run.yaml").string());
}

} // namespace atrous
