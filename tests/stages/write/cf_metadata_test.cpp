// SPDX-License-Identifier: Apache-2.0
// Purpose: write_cf_metadata: pixel-centre coordinates attached as dimension scales, the
// grid-mapping variable only with a georeference, pixel indices for a rotated grid, the
// classifier's tile grid.
#include "stages/write/cf_metadata.hpp"
#include "stages/write/h5_handle.hpp"
#include "stages/write/output_schema.hpp"
#include "tests/stages/read/scratch_dir.hpp"

#include <gtest/gtest.h>
#include <hdf5_hl.h>

#include <string>
#include <vector>

namespace
{

using namespace atrous;

struct CfFile
{
    h5::Handle file;
    h5::Handle labels;
    h5::Handle probabilities;
};

CfFile make_file(const std::filesystem::path& path, int width, int height, int channels)
{
    CfFile f;
    f.file = h5::Handle(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    const hsize_t dims2[2] = {static_cast<hsize_t>(height), static_cast<hsize_t>(width)};
    const hsize_t dims3[3] = {static_cast<hsize_t>(channels), dims2[0], dims2[1]};
    h5::Handle s2(H5Screate_simple(2, dims2, nullptr));
    h5::Handle s3(H5Screate_simple(3, dims3, nullptr));
    f.labels = h5::Handle(H5Dcreate2(f.file.get(), schema::mask, H5T_STD_U8LE, s2.get(),
                                     H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    f.probabilities = h5::Handle(H5Dcreate2(f.file.get(), schema::probability, H5T_IEEE_F32LE,
                                            s3.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    return f;
}

std::vector<double> read_doubles(hid_t file, const char* name)
{
    h5::Handle ds(H5Dopen2(file, name, H5P_DEFAULT));
    h5::Handle space(H5Dget_space(ds.get()));
    std::vector<double> out(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space.get())));
    H5Dread(ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data());
    return out;
}

std::string text(hid_t obj, const char* name)
{
    if (H5Aexists(obj, name) <= 0)
        return "(absent)";
    h5::Handle attr(H5Aopen(obj, name, H5P_DEFAULT));
    h5::Handle type(H5Aget_type(attr.get()));
    std::string out(H5Tget_size(type.get()), '\0');
    H5Aread(attr.get(), type.get(), out.data());
    return out;
}

TEST(CfMetadata, NorthUpPixelCentresAsDimensionScales)
{
    test::ScratchDir dir;
    CfFile f = make_file(dir / "o.h5", 4, 3, 2);
    OutputLayout l;
    l.image_width = 4;
    l.image_height = 3;
    l.channels = 2;
    l.tile_size = 2;
    l.geotransform = std::array<double, 6>{100.0, 2.0, 0.0, 50.0, 0.0, -1.0};
    l.crs_wkt = "LOCAL_CS[\"grid\",UNIT[\"metre\",1]]";
    write_cf_metadata(f.file.get(), f.labels.get(), f.probabilities.get(), l);

    EXPECT_EQ(read_doubles(f.file.get(), schema::x), (std::vector<double>{101, 103, 105, 107}));
    EXPECT_EQ(read_doubles(f.file.get(), schema::y), (std::vector<double>{49.5, 48.5, 47.5}));
    h5::Handle x(H5Dopen2(f.file.get(), schema::x, H5P_DEFAULT));
    h5::Handle y(H5Dopen2(f.file.get(), schema::y, H5P_DEFAULT));
    h5::Handle band(H5Dopen2(f.file.get(), schema::band, H5P_DEFAULT));
    EXPECT_GT(H5DSis_attached(f.labels.get(), y.get(), 0), 0);
    EXPECT_GT(H5DSis_attached(f.labels.get(), x.get(), 1), 0);
    EXPECT_GT(H5DSis_attached(f.probabilities.get(), band.get(), 0), 0);
    EXPECT_GT(H5DSis_attached(f.probabilities.get(), x.get(), 2), 0);
    EXPECT_EQ(text(x.get(), "standard_name"), "projection_x_coordinate");
    EXPECT_EQ(text(x.get(), "units"), "m");
    EXPECT_EQ(text(f.labels.get(), schema::grid_mapping), "spatial_ref");
    EXPECT_EQ(text(f.probabilities.get(), schema::grid_mapping), "spatial_ref");
    h5::Handle ref(H5Dopen2(f.file.get(), schema::spatial_ref, H5P_DEFAULT));
    EXPECT_EQ(text(ref.get(), "crs_wkt"), l.crs_wkt);
    EXPECT_EQ(text(ref.get(), schema::gdal_geotransform), "100 2 0 50 0 -1");
    EXPECT_EQ(text(f.file.get(), schema::conventions), "CF-1.8");
}

TEST(CfMetadata, NoGeoreferenceMeansPixelIndicesAndNoGridMapping)
{
    test::ScratchDir dir;
    CfFile f = make_file(dir / "o.h5", 3, 2, 1);
    OutputLayout l;
    l.image_width = 3;
    l.image_height = 2;
    l.channels = 1;
    l.tile_size = 2;
    write_cf_metadata(f.file.get(), f.labels.get(), -1, l);
    EXPECT_EQ(read_doubles(f.file.get(), schema::x), (std::vector<double>{0, 1, 2}));
    EXPECT_EQ(H5Lexists(f.file.get(), schema::spatial_ref, H5P_DEFAULT), 0);
    EXPECT_EQ(H5Lexists(f.file.get(), schema::band, H5P_DEFAULT), 0);
    EXPECT_EQ(text(f.labels.get(), schema::grid_mapping), "(absent)");
}

TEST(CfMetadata, RotatedGridKeepsItsGeoTransformWithIndexCoordinates)
{
    test::ScratchDir dir;
    CfFile f = make_file(dir / "o.h5", 3, 2, 1);
    OutputLayout l;
    l.image_width = 3;
    l.image_height = 2;
    l.channels = 1;
    l.tile_size = 2;
    l.geotransform = std::array<double, 6>{10.0, 1.0, 0.5, 20.0, 0.5, -1.0};
    write_cf_metadata(f.file.get(), f.labels.get(), -1, l);
    EXPECT_EQ(read_doubles(f.file.get(), schema::y), (std::vector<double>{0, 1}));
    h5::Handle ref(H5Dopen2(f.file.get(), schema::spatial_ref, H5P_DEFAULT));
    EXPECT_EQ(text(ref.get(), schema::gdal_geotransform), "10 1 0.5 20 0.5 -1");
}

TEST(CfMetadata, ClassifierGridCellIsATile)
{
    test::ScratchDir dir;
    CfFile f = make_file(dir / "o.h5", 2, 2, 1);
    OutputLayout l;
    l.image_width = 100; // pixels of the image; the grid is columns x rows
    l.image_height = 90;
    l.columns = 2;
    l.rows = 2;
    l.channels = 1;
    l.tile_size = 50;
    l.spatial = false;
    l.geotransform = std::array<double, 6>{0.0, 1.0, 0.0, 0.0, 0.0, -1.0};
    write_cf_metadata(f.file.get(), f.labels.get(), -1, l);
    EXPECT_EQ(read_doubles(f.file.get(), schema::x), (std::vector<double>{25, 75}));
    EXPECT_EQ(read_doubles(f.file.get(), schema::y), (std::vector<double>{-25, -75}));
}

} // namespace
