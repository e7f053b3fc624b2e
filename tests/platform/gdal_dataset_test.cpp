// SPDX-License-Identifier: Apache-2.0
// Purpose: the one GDAL dataset handle closes (and so flushes) its dataset: what was written
// through it is in the file once the handle is reset or gone.
#include "platform/gdal_dataset.hpp"
#include "tests/stages/read/scratch_dir.hpp"

#include <gdal.h>
#include <gtest/gtest.h>

#include <array>

namespace atrous
{
namespace
{

std::array<unsigned char, 4> read_back(const std::string& path)
{
    const gdal::Dataset ds(GDALOpen(path.c_str(), GA_ReadOnly));
    EXPECT_TRUE(ds) << path;
    std::array<unsigned char, 4> values{};
    if (!ds)
        return values;
    EXPECT_EQ(GDALRasterIO(GDALGetRasterBand(ds.get(), 1), GF_Read, 0, 0, 2, 2, values.data(), 2, 2,
                           GDT_Byte, 0, 0),
              CE_None);
    return values;
}

TEST(GdalDataset, ClosingFlushesWhatWasWritten)
{
    GDALAllRegister();
    test::ScratchDir dir;
    const std::string path = (dir / "a.tif").string();
    gdal::Dataset ds(
        GDALCreate(GDALGetDriverByName("GTiff"), path.c_str(), 2, 2, 1, GDT_Byte, nullptr));
    ASSERT_TRUE(ds);
    std::array<unsigned char, 4> values{1, 2, 3, 4};
    ASSERT_EQ(GDALRasterIO(GDALGetRasterBand(ds.get(), 1), GF_Write, 0, 0, 2, 2, values.data(), 2,
                           2, GDT_Byte, 0, 0),
              CE_None);
    ds.reset();
    EXPECT_FALSE(ds);
    EXPECT_EQ(read_back(path), values);
}

TEST(GdalDataset, AnEmptyHandleClosesNothing)
{
    gdal::Dataset ds(GDALOpen("/nonexistent/atrous/none.tif", GA_ReadOnly));
    EXPECT_FALSE(ds);
    ds.reset(); // GDALClose(nullptr) is never called
}

} // namespace
} // namespace atrous
