// SPDX-License-Identifier: Apache-2.0
// Purpose: `atrous export`: an HDF5 output's mask or probabilities through GDAL's own raster
// translator (GDALTranslate: GeoTIFF, COG, Zarr, any raster driver), the mask's polygons through
// GDALPolygonize and GDAL's vector translator (GDALVectorTranslate: GPKG, FlatGeobuf, ...).
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace spdlog
{
class logger;
}

namespace atrous
{

struct ExportOptions
{
    std::filesystem::path input; // an atrous HDF5 output (a ".partial" one: allow_partial)
    std::string what = "mask";   // "mask" or "probability"

    // Raster (gdal_translate's -of, -co).
    std::filesystem::path to;                  // empty: no raster
    std::string raster_format;                 // GDAL driver; empty: from --to's extension
    bool cog = false;                          // = raster_format "COG" (kept from before -of)
    std::vector<std::string> creation_options; // NAME=VALUE
    int block = 256; // GTiff/COG tile edge (and overview stop size) unless -co says otherwise

    // Polygons of the mask (ogr2ogr's -f, -lco, -dsco).
    std::filesystem::path polygons;           // empty: none
    std::string vector_format;                // GDAL driver; empty: from the extension
    std::vector<std::string> layer_options;   // NAME=VALUE
    std::vector<std::string> dataset_options; // NAME=VALUE
    bool skip_background = false;             // no polygons of class 0

    std::vector<std::pair<std::string, std::string>> config; // --config KEY VALUE
    bool allow_partial = false; // export an unfinished ".partial" output (unwritten = nodata)
};

/// The raster: GDALTranslate of the HDF5 dataset (read one block at a time) with the CRS and
/// geotransform of the HDF5 attributes, nodata (255 for the mask and uint8 probabilities, NaN for
/// float32 ones), on the mask a colour table, category names and a raster attribute table
/// (value, class name, colour), on uint8 probabilities scale 1/254. Format: -of, else by the
/// extension (GTiff when none matches). GTiff defaults (any -co overrides them by name): TILED,
/// `block` x `block`, DEFLATE, BIGTIFF=IF_SAFER, then overviews (nearest for the mask, average
/// for probabilities) down to one tile; COG: DEFLATE, BLOCKSIZE=block, the same resampling.
/// Polygons: GDALPolygonize of the mask into layer "mask" with an integer field "class" (nodata
/// pixels form no polygon; skip_background: neither do class 0 pixels), then GDALVectorTranslate
/// to the format (-f, else by the extension, GPKG when none matches).
///
/// Files are made in a private directory (mkdtemp, mode 0700) beside each destination and
/// renamed into place when complete (with their sidecars: .aux.xml, .shx, ...), so a link planted
/// at any name atrous writes is never followed. A destination that is a symbolic link, a
/// directory or another non-regular file is refused (OutputError), as is one that is the input
/// (same device and inode: ConfigError). An unfinished ".partial" input is refused (InputError,
/// "N of M tiles done") unless allow_partial. Throws InputError (the HDF5 file), ConfigError
/// (options, GDAL's usage errors), OutputError (GDAL's message, naming the file).
void export_output(const ExportOptions& options, spdlog::logger& log);

} // namespace atrous
