// SPDX-License-Identifier: Apache-2.0
// Purpose: the values that flow between stages: raster facts, tile tasks, tiles, predictions and
// output blocks. Plain data; no stage's internals.
#pragma once

#include "stages/image.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace atrous
{

/// A pixel rectangle in image coordinates (x = column, y = row, origin top-left).
struct Window
{
    int x = 0;
    int y = 0;
    int width = 0;
    int height = 0;
    friend bool operator==(const Window&, const Window&) = default;
};

using TileId = std::int64_t; // row-major index in the tile grid: row * columns + col

/// One unit of work, planned by pipeline/run/tile_plan.
struct TileTask
{
    TileId id = 0;
    int row = 0;
    int col = 0;
    /// Output pixels this tile owns (crop stitching), clipped to the image. Cores tile the image
    /// without overlap.
    Window core;
    /// Pixels read and run through the network: core + halo, clipped to the image padded
    /// bottom/right to a multiple of the model's total stride (so the true image border is the
    /// network's own zero padding). Edges are multiples of the total stride.
    Window window;
};

/// How the input stores its pixels, i.e. what GDAL decodes to serve a window. For a VRT: the
/// layout of its first source file (the mosaic's own blocks are virtual).
struct BlockLayout
{
    int block_width = 0; // pixels; 0 when unknown
    int block_height = 0;
    bool tiled = false;            // false: strips (a block is as wide as the raster)
    std::string compression;       // GDAL's name ("DEFLATE", "LZW", ...); "none"
    bool pixel_interleaved = true; // several bands: one block holds every band
    int file_bands = 0;            // bands in the file, before band selection
    int bytes_per_sample = 0;      // of the first selected band's data type
    std::string data_type;         // GDAL's name: "Byte", "UInt16", "Int16", "Float32", ...
    int source_files = 0;          // VRT: the files it mosaics; 0 otherwise
};

/// What a reader knows about its raster before reading any pixel.
struct RasterInfo
{
    std::string path;
    std::string driver; // GDAL short name, "GTiff", "VRT", ...
    int width = 0;
    int height = 0;
    int bands = 0;                                     // bands delivered (after band selection)
    std::optional<std::array<double, 6>> geotransform; // GDAL order
    std::string crs_wkt;                               // empty when the input has none
    std::optional<double> nodata; // effective nodata value (config or file), compared per pixel
    /// The file's validity mask that is not a nodata value: "per-dataset mask" (a .msk file or
    /// an internal TIFF mask) or "alpha band"; empty when none. Its zero pixels are nodata.
    std::string mask;
    BlockLayout layout;
};

/// A read window, ready for the network.
struct RasterTile
{
    TileTask task;
    /// window.height x window.width x bands, normalized; pixels beyond the true image border
    /// (padding to the stride) and nodata pixels are 0.
    Image pixels;
    /// window.height * window.width, 1 = valid data, 0 = nodata or beyond the image.
    std::vector<std::uint8_t> valid;
    bool empty = false; // every pixel of the core is nodata: not inferred, written as nodata
};

/// The network's output for a tile.
struct Prediction
{
    TileTask task;
    /// Spatial models: window.height x window.width x C over the whole window.
    /// Classifiers: 1 x 1 x C for the tile.
    Image probabilities;
    std::vector<std::uint8_t> valid; // as RasterTile::valid
    bool empty = false;
};

/// A finished region of the output, ready to be written. Regions of different blocks never
/// overlap, so several writers may write blocks concurrently.
struct OutputBlock
{
    Window region;                    // in output pixels (classifier: in tile-grid cells)
    int channels = 0;                 // C
    std::vector<float> probabilities; // C x region.height x region.width (planar)
    std::vector<std::uint8_t> valid;  // region.height x region.width; 0 = nodata
    std::vector<TileId> tiles;        // tiles completed by this block (resume bookkeeping)
};

} // namespace atrous
