// SPDX-License-Identifier: Apache-2.0
// Purpose: `atrous export OUTPUT`: the mask or probabilities to any GDAL raster format, the mask's
// polygons to any vector format (pipeline/products/export), with GDAL's own option spellings.
#include "pipeline/cli/subcommand.hpp"
#include "pipeline/products/export.hpp"

#include <spdlog/spdlog.h>

namespace atrous::cli
{
namespace
{

class ExportCommand final : public Subcommand
{
public:
    CLI::App* declare(CLI::App& app, CommonOptions& common) override
    {
        CLI::App* cmd = app.add_subcommand(
            "export",
            "Export an output's mask or probabilities through GDAL (GeoTIFF, COG, Zarr, any "
            "raster driver), the mask's polygons (GPKG, FlatGeobuf, any vector driver)");
        ExportOptions& o = m_options;
        cmd->add_option("output", m_in, "atrous HDF5 output")->required();
        cmd->add_option("--to", m_to, "Raster to write (format: -of, else by extension)");
        cmd->add_option("--what", o.what, "What to export")
            ->check(CLI::IsMember({"mask", "probability"}))
            ->capture_default_str();
        // GDAL's own spellings (-of, -co, -lco, -dsco) are rewritten to --of, ... before parsing
        // (pipeline/cli/cli.cpp).
        cmd->add_option("--of", o.raster_format,
                        "-of: raster format, a GDAL driver (as gdal_translate -of; default: by "
                        "the extension, else GTiff)");
        cmd->add_option("--co", o.creation_options,
                        "-co: raster creation option NAME=VALUE (as gdal_translate -co; "
                        "repeatable)")
            ->allow_extra_args(false);
        cmd->add_flag("--cog", o.cog, "Cloud Optimized GeoTIFF (= -of COG)");
        cmd->add_option("--polygons", m_polygons,
                        "Vector file of the mask's polygons (layer mask, field class)");
        cmd->add_option("-f,--format", o.vector_format,
                        "Vector format, a GDAL driver (as ogr2ogr -f; default: by the "
                        "extension, else GPKG)");
        cmd->add_option("--lco", o.layer_options,
                        "-lco: layer creation option NAME=VALUE (as ogr2ogr -lco; repeatable)")
            ->allow_extra_args(false);
        cmd->add_option("--dsco", o.dataset_options,
                        "-dsco: vector dataset creation option NAME=VALUE (as ogr2ogr -dsco)")
            ->allow_extra_args(false);
        cmd->add_flag("--skip-background", o.skip_background, "No polygons of class 0");
        cmd->add_option("--config", o.config,
                        "GDAL configuration option KEY VALUE (as in gdal_translate; "
                        "repeatable)")
            ->allow_extra_args(false);
        cmd->add_flag("--allow-partial", o.allow_partial,
                      "Export an unfinished .partial output (unwritten tiles are nodata)");
        add_common(*cmd, common);
        return cmd;
    }

    int execute(const CommonOptions& common) override
    {
        m_options.input = m_in;
        m_options.to = m_to;
        m_options.polygons = m_polygons;
        auto log = make_logger(log_format_of(common));
        export_output(m_options, *log);
        return 0;
    }

private:
    ExportOptions m_options;
    std::string m_in, m_to, m_polygons;
};

} // namespace

std::unique_ptr<Subcommand> make_export_command()
{
    return std::make_unique<ExportCommand>();
}

} // namespace atrous::cli
