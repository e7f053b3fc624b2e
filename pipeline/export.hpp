// SPDX-License-Identifier: Apache-2.0
// Purpose: `atrous export`: an HDF5 output's mask or probabilities as a georeferenced GeoTIFF or
// Cloud Optimized GeoTIFF, and the mask's polygons as a GeoPackage layer.
#pragma once

#include <filesystem>
#include <string>

namespace spdlog
{
class logger;
}

namespace atrous
{

struct ExportOptions
{
    std::filesystem::path input;    // an atrous HDF5 output
    std::filesystem::path to;       // the GeoTIFF written; empty: none (polygons only)
    std::string what = "mask";      // "mask" or "probability"
    bool cog = false;               // Cloud Optimized GeoTIFF (GDAL's COG driver)
    std::filesystem::path polygons; // GeoPackage of the mask's polygons; empty: none
    int block = 256;                // GeoTIFF tile edge (and overview stop size)
};

/// Writes the GeoTIFF: CRS and geotransform from the HDF5 attributes, DEFLATE, tiled, nodata set
/// (255 for the mask and uint8 probabilities, NaN for float32 ones), overviews (nearest for the
/// mask, average for probabilities) down to one tile. The HDF5 file is read one window of
/// tiles at a time. Files are written under a temporary name and renamed when complete.
/// Polygons: GDALPolygonize of the mask into layer "mask" with an integer field "class";
/// nodata pixels form no polygon. Throws InputError (the HDF5 file), ConfigError (options),
/// OutputError (GDAL's message, naming the file).
void export_output(const ExportOptions& options, spdlog::logger& log);

} // namespace atrous
