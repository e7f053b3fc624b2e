// SPDX-License-Identifier: Apache-2.0
// Purpose: tile.executor stream in a run (pipeline/stream_runner.hpp): the writer gets the same
// cores as from exact tiles + crop, each pixel once; the configurations it cannot run are refused
// before the writer exists.
#include "pipeline/config.hpp"
#include "pipeline/runner.hpp"
#include "stages/error.hpp"
#include "tests/pipeline/pipeline_test_util.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>

namespace atrous
{
namespace
{

namespace fs = std::filesystem;

class StreamRunnerTest : public testing::Test
{
protected:
    void SetUp() override
    {
        m_dir = fs::temp_directory_path() /
                ("atrous_stream_runner_" +
                 std::string(testing::UnitTest::GetInstance()->current_test_info()->name()));
        fs::create_directories(m_dir);
        m_log = std::make_shared<spdlog::logger>("test",
                                                 std::make_shared<spdlog::sinks::null_sink_mt>());
    }
    void TearDown() override { fs::remove_all(m_dir); }

    /// A 3-band raster through a small placeholder U-Net (stride 4), 16 px tiles.
    RunConfig config(const std::string& extra = "") const
    {
        const std::string yaml = "input:\n  path: in.tif\nmodel:\n  weights: none.h5\n"
                                 "  architecture: {type: unet, filters: 4, depth: 3, "
                                 "in_channels: 3}\noutput:\n  path: out.h5\n"
                                 "tile:\n  size: 16\n" +
                                 extra;
        RunConfig c = parse_config(yaml, (m_dir / "run.yaml").string(), m_dir);
        c.model.placeholder_seed = 3;
        c.runtime.threads = 2;
        return c;
    }

    std::unique_ptr<test::MemoryWriter> run(const RunConfig& c)
    {
        std::unique_ptr<test::MemoryWriter> out;
        Runner runner(c, *m_log, LogFormat::quiet);
        runner.set_writer_factory(
            [&](const WriteOptions& o, const OutputLayout& l) -> std::unique_ptr<Writer>
            {
                out = std::make_unique<test::MemoryWriter>(o, l);
                return std::make_unique<test::WriterProxy>(*out);
            });
        m_report = runner.run();
        return out;
    }

    fs::path m_dir;
    std::shared_ptr<spdlog::logger> m_log;
    RunReport m_report;
};

TEST_F(StreamRunnerTest, SameCoresAsExactTiles)
{
    // Odd size (not a multiple of the tile, the stride or the band), a nodata corner that empties
    // the first tile's core.
    test::TestRaster r = test::random_raster(45, 53, 3, 5);
    r.nodata = -1.0;
    for (int b = 0; b < 3; ++b)
        for (int y = 0; y < 20; ++y)
            for (int x = 0; x < 17; ++x)
                r.data[(static_cast<std::size_t>(b) * 53 + y) * 45 + x] = -1.0f;
    test::write_geotiff(r, m_dir / "in.tif");

    const auto tiles = run(config());
    const RunReport tiles_report = m_report;
    const auto stream = run(config("  executor: stream\n"));
    ASSERT_TRUE(tiles && stream);
    EXPECT_EQ(m_report.executor, "stream");
    EXPECT_EQ(tiles_report.executor, "tiles");
    EXPECT_NEAR(m_report.flop_ratio, 1.0, 1e-9);
    EXPECT_EQ(m_report.tiles, tiles_report.tiles);
    EXPECT_EQ(stream->tiles, tiles->tiles);
    EXPECT_EQ(m_report.empty_tiles, tiles_report.empty_tiles);
    EXPECT_EQ(m_report.empty_tiles, 1);
    EXPECT_NE(stream->m_options.config_yaml.find("executor: stream"), std::string::npos);
    EXPECT_NE(stream->m_options.fingerprint, tiles->m_options.fingerprint);
    float max_diff = 0;
    for (std::size_t i = 0; i < stream->writes.size(); ++i)
    {
        ASSERT_EQ(stream->writes[i], 1) << i;
        ASSERT_EQ(stream->valid[i], tiles->valid[i]) << i;
        max_diff = std::max(max_diff, std::abs(stream->probabilities[i] - tiles->probabilities[i]));
    }
    EXPECT_LE(max_diff, 1e-5f);
}

TEST_F(StreamRunnerTest, RefusedBeforeTheWriter)
{
    test::write_geotiff(test::random_raster(20, 20, 3, 1), m_dir / "in.tif");
    for (const std::string extra :
         {"  executor: stream\n  halo: 8\n", "  executor: stream\n  stitch: blend\n"})
    {
        std::unique_ptr<test::MemoryWriter> out;
        try
        {
            out = run(config(extra));
            FAIL() << "accepted: " << extra;
        }
        catch (const ConfigError& e)
        {
            EXPECT_NE(std::string(e.what()).find("tile.executor"), std::string::npos) << e.what();
        }
        EXPECT_FALSE(out);
    }
}

} // namespace
} // namespace atrous
