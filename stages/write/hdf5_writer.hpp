// SPDX-License-Identifier: Apache-2.0
// Purpose: `write.hdf5`: the georeferenced HDF5 output (mask, probabilities, provenance, progress).
#pragma once

#include "stages/stage.hpp"
#include "stages/write/write_options.hpp"

#include <filesystem>
#include <memory>
#include <mutex>

namespace atrous
{

class OutputLock;

/// The output file. Spatial models:
///   /mask              uint8 H x W: class index (argmax; C == 1: p >= threshold), 255 = nodata
///   /probability       C x H x W, when options.probabilities != none: float32 (NaN = nodata) or
///                      uint8 round(p * 254) (255 = nodata; attribute scale_factor = 1/254)
/// Classifiers: /class uint8 rows x columns and /class_probability C x rows x columns, likewise.
/// Spatial datasets are chunked by tile (chunk = min(tile, dim)), deflate + shuffle when
/// options.compression == "deflate"; unwritten pixels read as the fill value (nodata).
/// /progress/tile_done uint8 [rows * columns] (by TileId) is set to 1 as each tile's block is
/// written. Root attributes: geotransform (6 doubles, GDAL order; absent without one), crs_wkt,
/// atrous_version, model_sha256, config_yaml (variable-length UTF-8 strings).
///
/// The file is written as "<path>.partial"; finish() renames it to <path> only when every tile of
/// the grid was written, so a killed or failed run never leaves a file that looks complete.
/// write() is thread-safe: calls are serialized (the HDF5 library is not thread-safe).
class Hdf5Writer final : public Writer
{
public:
    Hdf5Writer(WriteOptions options, OutputLayout layout);
    ~Hdf5Writer() override;

    std::string_view name() const override { return "write.hdf5"; }
    /// Checks the options and the target, creates "<path>.partial" with every dataset. Throws
    /// ConfigError (bad option), OutputError ("<dir>: not writable", "<path>: is a directory",
    /// HDF5's message).
    void prepare(const RunContext& context) override;
    /// Throws OutputError with HDF5's message (e.g. disk full), atrous::Error when the block does
    /// not fit the layout (a pipeline bug).
    void write(const OutputBlock& block) override;
    /// Flushes and closes (OutputError when that fails), then renames when complete; otherwise
    /// leaves "<path>.partial" and logs a warning.
    void finish(const RunContext& context) override;
    std::vector<TileId> done_tiles() const override { return {}; }

    std::filesystem::path partial_path() const;
    /// Tiles written so far, and whether finish() published the file.
    long long tiles_written() const;
    bool published() const { return m_published; }

private:
    struct File;
    WriteOptions m_options;
    OutputLayout m_layout;
    mutable std::mutex m_mutex;
    std::unique_ptr<File> m_file;
    std::unique_ptr<OutputLock> m_lock; // "<path>.lock", held from prepare() to destruction
    bool m_published = false;
};

} // namespace atrous
