// SPDX-License-Identifier: Apache-2.0
// Purpose: config limits: alias bombs and oversized files are refused before parsing, with the file
// named; ordinary anchors and aliases still work.
#include "pipeline/config/config.hpp"
#include "pipeline/config/config_limits.hpp"
#include "stages/error.hpp"
#include "tests/stages/read/scratch_dir.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>

namespace atrous
{
namespace
{

std::string bomb(int levels)
{
    std::string y = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
    for (int i = 1; i < levels; ++i)
    {
        y += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
        for (int k = 0; k < 9; ++k)
            y += (k ? ", *a" : "*a") + std::to_string(i - 1);
        y += "]\n";
    }
    return y;
}

TEST(ConfigLimits, AliasBombIsRefusedQuickly)
{
    const auto start = std::chrono::steady_clock::now();
    try
    {
        parse_config(bomb(10) + "input:\n  path: *a9\n", "bomb.yaml", "/data");
        FAIL() << "bomb accepted";
    }
    catch (const ConfigError& e)
    {
        const std::string what = e.what();
        EXPECT_EQ(what.rfind("bomb.yaml:", 0), 0u) << what;
        EXPECT_NE(what.find("more than 100000 nodes"), std::string::npos) << what;
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(ConfigLimits, ExpansionJustBelowTheLimitIsCounted)
{
    // 9^5 = 59049 leaves: below the limit, so the key check reports the unknown key instead.
    try
    {
        parse_config(bomb(5), "ok.yaml", "/data");
        FAIL();
    }
    catch (const ConfigError& e)
    {
        EXPECT_NE(std::string(e.what()).find("unknown key"), std::string::npos) << e.what();
    }
    // 9^6 = 531441: above.
    EXPECT_THROW(check_config_complexity(bomb(6), "x.yaml"), ConfigError);
    EXPECT_NO_THROW(check_config_complexity(bomb(5), "x.yaml"));
}

TEST(ConfigLimits, OrdinaryAliasesWork)
{
    const RunConfig c = parse_config("input:\n  path: &p scene.tif\n  bands: &b [1, 2]\n"
                                     "model:\n  weights: m.h5\noutput:\n  path: out.h5\n",
                                     "run.yaml", "/data");
    EXPECT_EQ(c.input.bands, (std::vector<int>{1, 2}));
}

TEST(ConfigLimits, OversizedFileIsRefusedNamingIt)
{
    test::ScratchDir dir;
    const auto path = dir / "big.yaml";
    {
        std::ofstream f(path);
        f << "input:\n  path: scene.tif\n";
        const std::string line = "# " + std::string(98, 'y') + "\n";
        for (std::size_t n = 0; n <= max_config_bytes / line.size(); ++n)
            f << line;
    }
    try
    {
        load_config(path);
        FAIL() << "oversized config accepted";
    }
    catch (const ConfigError& e)
    {
        const std::string what = e.what();
        EXPECT_EQ(what.rfind(path.string() + ": ", 0), 0u) << what;
        EXPECT_NE(what.find("at most 1048576 bytes"), std::string::npos) << what;
    }
}

} // namespace
} // namespace atrous
