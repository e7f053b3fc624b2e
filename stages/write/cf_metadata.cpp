// SPDX-License-Identifier: Apache-2.0
// Purpose: write_cf_metadata: coordinate variables as HDF5 dimension scales (H5DS), the
// grid-mapping variable and the CF attributes of a published output.
#include "cf_metadata.hpp"

#include "stages/error.hpp"
#include "stages/write/h5_handle.hpp"
#include "stages/write/output_schema.hpp"

#include <fmt/format.h>
#include <hdf5_hl.h>
#include <ogr_srs_api.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace atrous
{

namespace
{

constexpr const char* where = "write.hdf5";

/// A fixed-length string attribute, as netCDF-C writes NC_CHAR text (an empty value is skipped:
/// HDF5 has no zero-length fixed string).
void text_attribute(hid_t obj, const char* name, const std::string& value)
{
    if (value.empty())
        return;
    h5::Handle type = h5::check(H5Tcopy(H5T_C_S1), where, "H5Tcopy");
    h5::check(H5Tset_size(type.get(), value.size()), where, "H5Tset_size");
    h5::check(H5Tset_strpad(type.get(), H5T_STR_NULLTERM), where, "H5Tset_strpad");
    h5::Handle space = h5::check(H5Screate(H5S_SCALAR), where, "H5Screate");
    h5::Handle attr =
        h5::check(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), where,
                  std::string("attribute ") + name);
    h5::check(H5Awrite(attr.get(), type.get(), value.data()), where,
              std::string("attribute ") + name);
}

/// A 1-D float64 coordinate variable made a dimension scale named after itself.
h5::Handle coordinate(hid_t file, const char* name, const std::vector<double>& values)
{
    const hsize_t n = values.size();
    h5::Handle space = h5::check(H5Screate_simple(1, &n, nullptr), where, "H5Screate_simple");
    h5::Handle ds = h5::check(
        H5Dcreate2(file, name, H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
        where, std::string("create ") + name);
    h5::check(H5Dwrite(ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
              where, std::string("write ") + name);
    h5::check(H5DSset_scale(ds.get(), name), where, std::string(name) + ": H5DSset_scale");
    return ds;
}

/// What the CRS says about its axes: geographic (degrees) or not, and the linear unit.
struct CrsAxes
{
    bool known = false; // a CRS OGR could read
    bool geographic = false;
    std::string units; // CF units of projected coordinates ("m"), empty when unknown
};

CrsAxes crs_axes(const std::string& wkt)
{
    CrsAxes axes;
    if (wkt.empty())
        return axes;
    OGRSpatialReferenceH srs = OSRNewSpatialReference(nullptr);
    if (srs == nullptr)
        return axes;
    if (OSRSetFromUserInput(srs, wkt.c_str()) == OGRERR_NONE)
    {
        axes.known = true;
        axes.geographic = OSRIsGeographic(srs) != 0;
        char* unit = nullptr;
        const double metres = OSRGetLinearUnits(srs, &unit);
        if (!axes.geographic)
            axes.units = std::abs(metres - 1.0) < 1e-12 ? "m" : (unit != nullptr ? unit : "");
    }
    OSRDestroySpatialReference(srs);
    return axes;
}

} // namespace

void write_cf_metadata(hid_t file, hid_t labels, hid_t probabilities, const OutputLayout& l)
{
    // The labels' grid: pixels, or one cell per tile for a classifier.
    const int width = l.spatial ? l.image_width : l.columns;
    const int height = l.spatial ? l.image_height : l.rows;
    std::optional<std::array<double, 6>> gt = l.geotransform;
    if (gt && !l.spatial)
    {
        for (const int i : {1, 2, 4, 5})
            (*gt)[static_cast<std::size_t>(i)] *= l.tile_size;
    }
    // A rotated grid has no 1-D coordinates: pixel indices, and the GeoTransform attribute.
    const bool axis_aligned = gt && (*gt)[2] == 0.0 && (*gt)[4] == 0.0;
    const CrsAxes axes = crs_axes(l.crs_wkt);

    std::vector<double> xs(static_cast<std::size_t>(width));
    std::vector<double> ys(static_cast<std::size_t>(height));
    for (int i = 0; i < width; ++i)
        xs[static_cast<std::size_t>(i)] = axis_aligned ? (*gt)[0] + (i + 0.5) * (*gt)[1] : i;
    for (int j = 0; j < height; ++j)
        ys[static_cast<std::size_t>(j)] = axis_aligned ? (*gt)[3] + (j + 0.5) * (*gt)[5] : j;
    h5::Handle x = coordinate(file, schema::x, xs);
    h5::Handle y = coordinate(file, schema::y, ys);
    if (!axis_aligned)
    {
        text_attribute(x.get(), "long_name", "pixel column index (no axis-aligned georeference)");
        text_attribute(y.get(), "long_name", "pixel row index (no axis-aligned georeference)");
    }
    else if (axes.known && axes.geographic)
    {
        text_attribute(x.get(), "standard_name", "longitude");
        text_attribute(x.get(), "long_name", "longitude");
        text_attribute(x.get(), "units", "degrees_east");
        text_attribute(y.get(), "standard_name", "latitude");
        text_attribute(y.get(), "long_name", "latitude");
        text_attribute(y.get(), "units", "degrees_north");
    }
    else
    {
        // Projected or local (engineering) CRS, or a geotransform without a CRS.
        if (axes.known)
        {
            text_attribute(x.get(), "standard_name", "projection_x_coordinate");
            text_attribute(y.get(), "standard_name", "projection_y_coordinate");
        }
        text_attribute(x.get(), "long_name", "x coordinate of the pixel centre");
        text_attribute(y.get(), "long_name", "y coordinate of the pixel centre");
        text_attribute(x.get(), "units", axes.units);
        text_attribute(y.get(), "units", axes.units);
    }
    if (axis_aligned)
    {
        text_attribute(x.get(), "axis", "X");
        text_attribute(y.get(), "axis", "Y");
    }

    h5::check(H5DSattach_scale(labels, y.get(), 0), where, "attach y to the labels");
    h5::check(H5DSattach_scale(labels, x.get(), 1), where, "attach x to the labels");
    if (probabilities >= 0)
    {
        h5::Handle space = h5::check(H5Dget_space(probabilities), where, "H5Dget_space");
        hsize_t dims[3] = {0, 0, 0};
        if (H5Sget_simple_extent_ndims(space.get()) != 3)
            throw OutputError(where, "probabilities: 3 dimensions expected");
        H5Sget_simple_extent_dims(space.get(), dims, nullptr);
        std::vector<std::int32_t> index(static_cast<std::size_t>(dims[0]));
        for (std::size_t k = 0; k < index.size(); ++k)
            index[k] = static_cast<std::int32_t>(k);
        h5::Handle bspace =
            h5::check(H5Screate_simple(1, dims, nullptr), where, "H5Screate_simple");
        h5::Handle band = h5::check(H5Dcreate2(file, schema::band, H5T_STD_I32LE, bspace.get(),
                                               H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                    where, "create band");
        h5::check(
            H5Dwrite(band.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, index.data()),
            where, "write band");
        h5::check(H5DSset_scale(band.get(), schema::band), where, "band: H5DSset_scale");
        text_attribute(band.get(), "long_name", "class index");
        h5::check(H5DSattach_scale(probabilities, band.get(), 0), where, "attach band");
        h5::check(H5DSattach_scale(probabilities, y.get(), 1), where, "attach y");
        h5::check(H5DSattach_scale(probabilities, x.get(), 2), where, "attach x");
    }

    if (!l.crs_wkt.empty() || gt)
    {
        // rioxarray's and GDAL's grid-mapping variable: a scalar whose attributes are the CRS.
        h5::Handle space = h5::check(H5Screate(H5S_SCALAR), where, "H5Screate");
        h5::Handle ref = h5::check(H5Dcreate2(file, schema::spatial_ref, H5T_STD_I32LE, space.get(),
                                              H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                   where, "create spatial_ref");
        const std::int32_t zero = 0;
        h5::check(H5Dwrite(ref.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, &zero),
                  where, "write spatial_ref");
        text_attribute(ref.get(), "crs_wkt", l.crs_wkt);
        text_attribute(ref.get(), "spatial_ref", l.crs_wkt);
        if (gt)
            text_attribute(ref.get(), schema::gdal_geotransform,
                           fmt::format("{:.17g} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g}", (*gt)[0],
                                       (*gt)[1], (*gt)[2], (*gt)[3], (*gt)[4], (*gt)[5]));
        text_attribute(labels, schema::grid_mapping, schema::spatial_ref);
        if (probabilities >= 0)
            text_attribute(probabilities, schema::grid_mapping, schema::spatial_ref);
    }
    text_attribute(file, schema::conventions, schema::cf_version);
}

} // namespace atrous
