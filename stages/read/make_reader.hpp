// SPDX-License-Identifier: Apache-2.0
// Purpose: factory of the read stage; the pipeline builds readers only through these functions.
#pragma once

#include "stages/read/read_options.hpp"
#include "stages/stage.hpp"

#include <memory>

namespace atrous
{

/// `read.gdal`: any raster GDAL opens (GeoTIFF, COG, VRT, ...). Cheap: no I/O before prepare(),
/// which opens the file and throws InputError("read.gdal", "<path>: <why>"). read() is thread-safe
/// after prepare().
std::unique_ptr<Reader> make_gdal_reader(const ReadOptions& options);

} // namespace atrous
