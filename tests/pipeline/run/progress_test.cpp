// SPDX-License-Identifier: Apache-2.0
// Purpose: the progress line's numbers and formats.
#include "pipeline/run/progress.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace atrous
{
namespace
{

TEST(Progress, Line)
{
    EXPECT_EQ(Progress::line(16, 64, 8.0, 40.0),
              "tiles 16/64 (25.0%)  2.00 tiles/s  5.0 GFLOP/s  elapsed 0:08  ETA 0:24");
    // ETA from the work left when the total work is known (edge tiles are cheaper).
    EXPECT_EQ(Progress::line(16, 64, 8.0, 40.0, 80.0),
              "tiles 16/64 (25.0%)  2.00 tiles/s  5.0 GFLOP/s  elapsed 0:08  ETA 0:08");
    // Empty tiles skipped: their planned work counts as passed for the ETA (they went fast),
    // never as GFLOP run (2.5 GFLOP/s, not 5).
    EXPECT_EQ(Progress::line(16, 64, 8.0, 20.0, 80.0, 20.0),
              "tiles 16/64 (25.0%)  2.00 tiles/s  2.5 GFLOP/s  elapsed 0:08  ETA 0:08");
    // 92 % of the tiles passed, nearly all empty: the ETA is what the passing rate says.
    EXPECT_EQ(Progress::line(92, 100, 10.0, 2.0, 1000.0, 918.0),
              "tiles 92/100 (92.0%)  9.20 tiles/s  0.2 GFLOP/s  elapsed 0:10  ETA 0:01");
    EXPECT_EQ(Progress::line(0, 10, 0.0, 0.0),
              "tiles 0/10 (0.0%)  0.00 tiles/s  0.0 GFLOP/s  elapsed 0:00  ETA ?");
    EXPECT_EQ(Progress::line(10, 10, 100.0, 5.0),
              "tiles 10/10 (100.0%)  0.10 tiles/s  0.1 GFLOP/s  elapsed 1:40  done");
}

TEST(Progress, Duration)
{
    EXPECT_EQ(Progress::duration(0), "0:00");
    EXPECT_EQ(Progress::duration(59.6), "1:00");
    EXPECT_EQ(Progress::duration(3725), "1:02:05");
    EXPECT_EQ(Progress::duration(-1), "?");
}

std::string printed(LogFormat format, int tiles)
{
    std::FILE* f = std::tmpfile();
    {
        Progress p(format, tiles, 0.0, f, std::chrono::milliseconds(0));
        for (int i = 0; i < tiles; ++i)
            p.advance(1, 1.0);
        p.finish();
        p.finish(); // idempotent
    }
    std::rewind(f);
    std::string out;
    for (int c; (c = std::fgetc(f)) != EOF;)
        out.push_back(static_cast<char>(c));
    std::fclose(f);
    return out;
}

TEST(Progress, PlainPrintsLinesBarRedrawsQuietNothing)
{
    const std::string plain = printed(LogFormat::plain, 3);
    // One line per interval (0 ms here); finish() adds none when the last one was final.
    EXPECT_EQ(std::count(plain.begin(), plain.end(), '\n'), 3);
    EXPECT_NE(plain.find("tiles 3/3 (100.0%)"), std::string::npos);
    EXPECT_EQ(plain.find('\r'), std::string::npos);

    const std::string bar = printed(LogFormat::bar, 3);
    EXPECT_EQ(std::count(bar.begin(), bar.end(), '\n'), 1);
    EXPECT_EQ(bar.front(), '\r');
    EXPECT_NE(bar.find("tiles 3/3"), std::string::npos);

    EXPECT_EQ(printed(LogFormat::quiet, 3), "");
}

} // namespace
} // namespace atrous
