// SPDX-License-Identifier: Apache-2.0
// Purpose: netCDF-4/CF metadata of the published output, so that GDAL's netCDF driver, xarray,
// rioxarray and QGIS place it where the input lies, with its CRS and nodata.
#pragma once

#include "stages/write/write_options.hpp"

#include <hdf5.h>

namespace atrous
{

/// Adds to a published output file, open for writing, beside the existing datasets:
///   /x, /y        float64 pixel-centre coordinates from the grid's geotransform (projected:
///                 projection_x/y_coordinate in the CRS' unit; geographic: longitude/latitude in
///                 degrees; no or a rotated geotransform: pixel indices), HDF5 dimension scales
///                 attached to the rasters (netCDF-4 dimensions);
///   /band         int32 class index 0..C-1, the first dimension of the probabilities;
///   /spatial_ref  scalar grid-mapping variable: crs_wkt (CF), spatial_ref and GeoTransform
///                 (GDAL's netCDF driver), written when the grid has a CRS or a geotransform;
/// and on each raster `grid_mapping = "spatial_ref"` (when written), on the root
/// `Conventions = "CF-1.8"`. The rasters' _FillValue is already there (the writer makes it).
/// The grid is the labels': pixels (layout.spatial) or the classifier's tile grid, whose cell is
/// tile_size pixels. `probabilities` may be negative (none). String attributes are fixed-length
/// ASCII/UTF-8 (netCDF NC_CHAR). Throws OutputError with HDF5's message.
void write_cf_metadata(hid_t file, hid_t labels, hid_t probabilities, const OutputLayout& layout);

} // namespace atrous
