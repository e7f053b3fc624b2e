// SPDX-License-Identifier: Apache-2.0
// Purpose: the names, nodata codes and chunking of an atrous HDF5 output, in one place: the writer,
// the reader (pipeline/products/output_file.cpp), `atrous export`, the preview and the netCDF/CF
// metadata use these.
#pragma once

#include <cstdint>
#include <limits>

namespace atrous::schema
{

// Datasets. Spatial models: /mask (H x W) and /probability (C x H x W); classifiers: /class
// (rows x columns of tiles) and /class_probability (C x rows x columns).
inline constexpr char mask[] = "mask";
inline constexpr char probability[] = "probability";
inline constexpr char class_grid[] = "class";
inline constexpr char class_probability[] = "class_probability";
inline constexpr char progress_group[] = "progress";
inline constexpr char tile_done[] = "progress/tile_done"; // uint8 per tile, 1 = written

// Root attributes.
inline constexpr char geotransform[] = "geotransform"; // 6 doubles, GDAL order
inline constexpr char crs_wkt[] = "crs_wkt";
inline constexpr char atrous_version[] = "atrous_version";
inline constexpr char model_sha256[] = "model_sha256";
inline constexpr char config_yaml[] = "config_yaml";
inline constexpr char fingerprint[] = "fingerprint";

// Attributes of the label and probability datasets.
inline constexpr char fill_value[] = "_FillValue"; // netCDF/CF nodata, the data's own type
inline constexpr char nodata[] = "nodata";
inline constexpr char classes[] = "classes"; // int: C, the model's channels
inline constexpr char threshold[] = "threshold";
inline constexpr char description[] = "description";
inline constexpr char scale_factor[] = "scale_factor"; // uint8 probabilities: 1/254

// Attributes of /progress/tile_done.
inline constexpr char tile_columns[] = "columns";
inline constexpr char tile_rows[] = "rows";

// netCDF-4/CF additions of the published file (stages/write/cf_metadata.hpp).
inline constexpr char x[] = "x";                     // 1-D pixel-centre coordinates
inline constexpr char y[] = "y";                     //
inline constexpr char band[] = "band";               // class index of the probabilities
inline constexpr char spatial_ref[] = "spatial_ref"; // the grid-mapping variable
inline constexpr char grid_mapping[] = "grid_mapping";
inline constexpr char gdal_geotransform[] = "GeoTransform"; // GDAL's "x0 dx rx y0 ry dy"
inline constexpr char conventions[] = "Conventions";
inline constexpr char cf_version[] = "CF-1.8";

// `atrous export --polygons`: layer schema::mask, this integer field holds the class.
inline constexpr char class_field[] = "class";

// Chunking: spatial datasets in tiles (chunk edge = tile_size), classifier grids in blocks of
// at most this many cells a side; a chunk edge never exceeds its dimension.
inline constexpr int class_grid_chunk = 64;
constexpr int chunk_edge(int edge, int dimension)
{
    return edge < dimension ? edge : dimension;
}

// Nodata codes.
inline constexpr std::uint8_t nodata_u8 = 255;
inline constexpr float nodata_f32 = std::numeric_limits<float>::quiet_NaN();
/// uint8 probabilities are round(p * 254).
inline constexpr float u8_probability_steps = 254.0f;
inline constexpr double u8_probability_scale = 1.0 / 254.0;

} // namespace atrous::schema
