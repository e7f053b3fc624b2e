// SPDX-License-Identifier: Apache-2.0
// Purpose: the runner: every tile reaches the writer once, nodata tiles are skipped, and bad
// input, model or configuration fails before the writer exists; the stream executor writes the
// cores of exact tiles.
#include "pipeline/config/config.hpp"
#include "pipeline/run/runner.hpp"
#include "stages/error.hpp"
#include "tests/pipeline/pipeline_test_util.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

namespace atrous
{
namespace
{

namespace fs = std::filesystem;

class RunnerTest : public testing::Test
{
protected:
    void SetUp() override
    {
        m_dir = fs::temp_directory_path() /
                ("atrous_runner_" +
                 std::string(testing::UnitTest::GetInstance()->current_test_info()->name()));
        fs::create_directories(m_dir);
        m_log = std::make_shared<spdlog::logger>("test",
                                                 std::make_shared<spdlog::sinks::null_sink_mt>());
    }
    void TearDown() override { fs::remove_all(m_dir); }

    /// A config for a 3-band raster and a small placeholder U-Net (stride 4).
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

    /// Runs; returns the writer the runner built (null when it never got that far).
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

TEST_F(RunnerTest, EveryTileWrittenOnceAndNodataSkipped)
{
    test::TestRaster r = test::random_raster(45, 37, 3, 5);
    r.nodata = -1.0;
    // The first tile's core (16x16 at the origin) is entirely nodata.
    for (int b = 0; b < 3; ++b)
        for (int y = 0; y < 16; ++y)
            for (int x = 0; x < 16; ++x)
                r.data[(static_cast<std::size_t>(b) * 37 + y) * 45 + x] = -1.0f;
    test::write_geotiff(r, m_dir / "in.tif");

    const auto out = run(config());
    ASSERT_TRUE(out);
    EXPECT_EQ(m_report.tiles, 9);
    EXPECT_EQ(m_report.empty_tiles, 1);
    EXPECT_EQ(out->tiles, 9);
    EXPECT_EQ(out->m_layout.image_width, 45);
    EXPECT_EQ(out->m_layout.image_height, 37);
    EXPECT_EQ(out->m_layout.columns, 3);
    EXPECT_EQ(out->m_layout.channels, 1);
    ASSERT_TRUE(out->m_layout.geotransform);
    EXPECT_EQ((*out->m_layout.geotransform)[0], 500000.0);
    for (int y = 0; y < 37; ++y)
        for (int x = 0; x < 45; ++x)
        {
            const std::size_t i = static_cast<std::size_t>(y) * 45 + x;
            ASSERT_EQ(out->writes[i], 1) << x << "," << y;
            ASSERT_EQ(out->valid[i], (x < 16 && y < 16) ? 0 : 1) << x << "," << y;
            if (out->valid[i])
            {
                const float p = out->probability(0, y, x);
                ASSERT_TRUE(p >= 0.0f && p <= 1.0f) << p;
            }
        }
    // Provenance: the effective configuration, tile.size filled in.
    EXPECT_NE(out->m_options.config_yaml.find("size: 16"), std::string::npos);
    EXPECT_EQ(out->m_options.model_sha256, "placeholder");
}

TEST_F(RunnerTest, SameResultWithOneThreadAndBlend)
{
    test::write_geotiff(test::random_raster(40, 24, 3, 9), m_dir / "in.tif");
    RunConfig c = config();
    const auto a = run(c);
    c.runtime.threads = 1;
    const auto b = run(c);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->probabilities, b->probabilities);
    c.stitch.mode = StitchMode::blend;
    const auto blend = run(c);
    ASSERT_TRUE(blend);
    EXPECT_EQ(blend->tiles, 6);
    for (int v : blend->writes)
        ASSERT_EQ(v, 1);
}

TEST_F(RunnerTest, BandCountMismatchFailsBeforeTheWriter)
{
    test::write_geotiff(test::random_raster(20, 20, 2, 1), m_dir / "in.tif");
    try
    {
        const auto out = run(config());
        FAIL() << "no error";
    }
    catch (const InputError& e)
    {
        EXPECT_EQ(std::string(e.what()),
                  "infer: " + (m_dir / "in.tif").string() +
                      ": 2 bands delivered, the model takes 3 input channels (choose bands "
                      "with input.bands)");
    }
}

TEST_F(RunnerTest, TileSizeNotMultipleOfStrideNamesTheKey)
{
    test::write_geotiff(test::random_raster(20, 20, 3, 1), m_dir / "in.tif");
    try
    {
        RunConfig c = config();
        c.tile.size = 18;
        run(c);
        FAIL() << "no error";
    }
    catch (const ConfigError& e)
    {
        EXPECT_EQ(std::string(e.what()), (m_dir / "run.yaml").string() +
                                             ":9 tile.size: expected a multiple of 4 (the "
                                             "model's total stride), found 18");
    }
}

TEST_F(RunnerTest, MissingInputFailsBeforeTheWriter)
{
    bool writer_built = false;
    Runner runner(config(), *m_log, LogFormat::quiet);
    runner.set_writer_factory(
        [&](const WriteOptions& o, const OutputLayout& l) -> std::unique_ptr<Writer>
        {
            writer_built = true;
            return std::make_unique<test::MemoryWriter>(o, l);
        });
    EXPECT_THROW(runner.run(), InputError);
    EXPECT_FALSE(writer_built);
}

TEST_F(RunnerTest, MissingWeightsFileIsAModelError)
{
    test::write_geotiff(test::random_raster(20, 20, 3, 1), m_dir / "in.tif");
    RunConfig c = config();
    c.model.placeholder_seed.reset();
    EXPECT_THROW(run(c), ModelError);
}

// tile.executor: stream (pipeline/run/streaming_executor.hpp): the same cores as exact tiles +
// crop, each pixel once; what it cannot run is refused before the writer exists. (A fixture of its
// own: not yet in the ThreadSanitizer set, which takes RunnerTest.*.)
class StreamRunnerTest : public RunnerTest
{
};

TEST_F(StreamRunnerTest, WritesTheCoresOfExactTiles)
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

    const auto tiles = run(config("  executor: tiles\n"));
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

/// Forwards to a writer the test keeps, calling `before` ahead of each block (which may throw).
class CallbackWriter final : public Writer
{
public:
    CallbackWriter(Writer& target, std::function<void(const OutputBlock&)> before)
        : m_target(target), m_before(std::move(before))
    {
    }
    std::string_view name() const override { return m_target.name(); }
    void prepare(const RunContext& c) override { m_target.prepare(c); }
    void write(const OutputBlock& b) override
    {
        m_before(b);
        m_target.write(b);
    }
    void finish(const RunContext& c) override { m_target.finish(c); }
    std::vector<TileId> done_tiles() const override { return m_target.done_tiles(); }

private:
    Writer& m_target;
    std::function<void(const OutputBlock&)> m_before;
};

// The writes run on a thread of their own: a writer error (disk full) on that thread reaches the
// caller with its class and message, also when the write queue is full behind a slow writer,
// and the stream stops without writing past it.
TEST_F(StreamRunnerTest, WriterErrorOnItsThreadReachesTheCaller)
{
    test::write_geotiff(test::random_raster(45, 110, 3, 7), m_dir / "in.tif");
    std::unique_ptr<test::MemoryWriter> out;
    int writes = 0;
    std::thread::id writer_thread;
    Runner runner(config("  executor: stream\n"), *m_log, LogFormat::quiet);
    runner.set_writer_factory(
        [&](const WriteOptions& o, const OutputLayout& l) -> std::unique_ptr<Writer>
        {
            out = std::make_unique<test::MemoryWriter>(o, l);
            return std::make_unique<CallbackWriter>(
                *out,
                [&](const OutputBlock&)
                {
                    writer_thread = std::this_thread::get_id();
                    // Slow: the stream fills the write queue and waits on it.
                    std::this_thread::sleep_for(std::chrono::milliseconds(20));
                    if (++writes == 5)
                        throw OutputError("write.memory", "out.h5: No space left on device");
                });
        });
    try
    {
        runner.run();
        FAIL() << "no error";
    }
    catch (const OutputError& e)
    {
        EXPECT_EQ(std::string(e.what()), "write.memory: out.h5: No space left on device");
    }
    EXPECT_EQ(writes, 5); // nothing written after the failed block
    ASSERT_TRUE(out);
    EXPECT_EQ(out->tiles, 4);
    EXPECT_NE(writer_thread, std::this_thread::get_id());
}

} // namespace
} // namespace atrous
