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
/// Nodata: a pixel is nodata when every selected band equals the nodata value, when any band
/// is NaN or +-Inf (non-finite input cannot feed the network, with or without a nodata value),
/// or when the file's validity mask (an alpha band or a per-dataset mask, e.g. a TIFF internal
/// mask or .msk file; RasterInfo::mask) is 0 there (the first selected band's mask).
/// Nodata pixels and pixels of the window beyond the image get value 0 and valid 0; the others
/// are normalized per band (value * scale + offset) after the test.
///
/// prepare() warns (context.log) when the input has no CRS or no georeference at all, and keeps
/// whatever georeference there is verbatim (RasterInfo::crs_wkt is GDAL's WKT of the file).
///
/// Threads: read() may be called from several threads at once; each call borrows an idle GDAL
/// dataset handle (opening one when none is idle; GDAL handles are not thread-safe) and gives it
/// back. Called from one thread at a time, it always uses the same handle, so GDAL's block cache
/// (plan_gdal_cache) serves the blocks that neighbouring windows share. Blocks are decoded in the
/// calling thread (GDAL_NUM_THREADS=1 for it: GDAL 3.6.2's multi-threaded decoding gives wrong
/// pixels for band-interleaved TIFFs). A GDAL error during a read is an InputError even when
/// RasterIO returns success.
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
