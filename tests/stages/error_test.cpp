// SPDX-License-Identifier: Apache-2.0
// Purpose: errors name their component and map to the documented exit statuses.
#include "stages/error.hpp"

#include <gtest/gtest.h>

TEST(Error, WhatNamesTheComponent)
{
    const atrous::InputError e("read.gdal", "/x.tif: not a raster");
    EXPECT_STREQ(e.what(), "read.gdal: /x.tif: not a raster");
    EXPECT_EQ(e.exit_code(), 3);
}

TEST(Error, ExitStatusByClass)
{
    EXPECT_EQ(atrous::ConfigError("c", "x").exit_code(), 2);
    EXPECT_EQ(atrous::ModelError("m", "x").exit_code(), 4);
    EXPECT_EQ(atrous::OutputError("o", "x").exit_code(), 5);
    EXPECT_EQ(atrous::InterruptedError("i", "x").exit_code(), 75);
    EXPECT_EQ(atrous::Error("", "bare").what(), std::string("bare"));
}
