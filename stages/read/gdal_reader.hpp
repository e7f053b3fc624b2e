// SPDX-License-Identifier: Apache-2.0
// Purpose: `read.gdal`, the reader of any raster GDAL opens; reads one window per tile.
#pragma once

#include "stages/read/read_options.hpp"
#include "stages/stage.hpp"

#include <memory>

namespace atrous
{

/// Reads tile windows of a GDAL raster as normalized float32 NHWC tensors.
///
/// Nodata: a pixel is nodata when every selected band equals the nodata value, or when any band
/// is NaN or +-Inf (non-finite input cannot feed the network, with or without a nodata value).
/// Nodata pixels and pixels of the window beyond the image get value 0 and valid 0; the others
/// are normalized per band (value * scale + offset) after the test.
///
/// Threads: read() may be called from several threads at once; every thread opens its own GDAL
/// dataset handle on first use (GDAL handles are not thread-safe; the block cache is shared).
class GdalReader final : public Reader
{
public:
    explicit GdalReader(ReadOptions options);
    ~GdalReader() override;

    std::string_view name() const override { return "read.gdal"; }
    /// Opens and validates; throws InputError("read.gdal", "<path>: <why>") (missing file, not a
    /// raster, no pixels, band out of range) or ConfigError (normalization count mismatch).
    void prepare(const RunContext& context) override;
    void finish(const RunContext& context) override;

    RasterInfo info() const override;
    /// Throws InputError with GDAL's message when the pixels cannot be read (corrupt file).
    RasterTile read(const TileTask& task) override;

private:
    struct State;
    ReadOptions m_options;
    std::unique_ptr<State> m_state;
};

} // namespace atrous
