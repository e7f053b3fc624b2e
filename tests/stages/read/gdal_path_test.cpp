// SPDX-License-Identifier: Apache-2.0
// Purpose: /vsi names are recognised; stat_file/path_exists answer through VSIStatL for them
// (here /vsimem/ and /vsizip/) and through stat() with nanoseconds for local files.
#include "stages/read/gdal_error.hpp"
#include "stages/read/gdal_path.hpp"
#include "tests/stages/read/scratch_dir.hpp"

#include <cpl_vsi.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sys/time.h>

namespace
{

using namespace atrous;

TEST(GdalPath, RecognisesVirtualNames)
{
    EXPECT_TRUE(is_gdal_virtual_path("/vsicurl/https://h/x.tif"));
    EXPECT_TRUE(is_gdal_virtual_path("/vsis3/b/k"));
    EXPECT_TRUE(is_gdal_virtual_path("/vsizip/a.zip/b.tif"));
    EXPECT_FALSE(is_gdal_virtual_path("/data/vsicurl/x.tif"));
    EXPECT_FALSE(is_gdal_virtual_path("vsicurl/x.tif"));
    EXPECT_FALSE(is_gdal_virtual_path(""));
}

TEST(GdalPath, StatsVirtualFilesThroughGdal)
{
    gdal_register_once();
    const std::string name = "/vsimem/gdal_path_test/a.bin";
    VSILFILE* f = VSIFOpenL(name.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(VSIFWriteL("12345", 1, 5, f), 5u);
    VSIFCloseL(f);
    const auto st = stat_file(name);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->size, 5);
    EXPECT_EQ(st->modified.find('.'), std::string::npos); // VSIStatL: whole seconds
    EXPECT_TRUE(path_exists(name));
    VSIUnlink(name.c_str());
    EXPECT_FALSE(stat_file(name));
    EXPECT_FALSE(path_exists(name));
    EXPECT_FALSE(path_exists("/vsizip//nonexistent/a.zip/b.tif"));
}

TEST(GdalPath, StatsLocalFilesWithNanoseconds)
{
    test::ScratchDir dir;
    const std::string path = (dir / "a.bin").string();
    std::ofstream(path) << "abc";
    const timeval times[2] = {{1000, 5}, {1000, 5}};
    ASSERT_EQ(::utimes(path.c_str(), times), 0);
    const auto st = stat_file(path);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->size, 3);
    EXPECT_EQ(st->modified, "1000.000005000");
    EXPECT_FALSE(stat_file((dir / "absent").string()));
}

} // namespace
