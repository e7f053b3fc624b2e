// SPDX-License-Identifier: Apache-2.0
// Purpose: the run plan and the checkpoint: the grid is planned once and the stitcher's geometry
// and the writer's layout are that grid; provenance and FLOPs; the checkpoint's done and needed
// tiles and its resume line.
#include "pipeline/config/config.hpp"
#include "pipeline/run/checkpoint.hpp"
#include "pipeline/run/run_plan.hpp"
#include "stages/infer/infer_stage.hpp"
#include "stages/read/make_reader.hpp"
#include "stages/stitch/make_stitcher.hpp"
#include "tests/pipeline/pipeline_test_util.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <sstream>

namespace atrous
{
namespace
{

namespace fs = std::filesystem;

/// A writer whose output already holds some tiles (as a resumed partial file would).
class DoneWriter final : public Writer
{
public:
    explicit DoneWriter(std::vector<TileId> done) : m_done(std::move(done)) {}
    std::string_view name() const override { return "write.done"; }
    void write(const OutputBlock&) override {}
    std::vector<TileId> done_tiles() const override { return m_done; }

private:
    std::vector<TileId> m_done;
};

class RunPlanTest : public testing::Test
{
protected:
    void SetUp() override
    {
        m_dir = fs::temp_directory_path() /
                ("atrous_run_plan_" +
                 std::string(testing::UnitTest::GetInstance()->current_test_info()->name()));
        fs::create_directories(m_dir);
        test::write_geotiff(test::random_raster(45, 37, 3, 5), m_dir / "in.tif");
        m_log = std::make_shared<spdlog::logger>(
            "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(m_text));
        m_log->set_pattern("%v");
        m_context.log = m_log.get();
    }
    void TearDown() override { fs::remove_all(m_dir); }

    /// A 3-band raster of 45 x 37 px, a placeholder U-Net (stride 4), tiles of 16 px.
    RunConfig config(const std::string& extra = "") const
    {
        const std::string yaml = "input:\n  path: in.tif\nmodel:\n  weights: none.h5\n"
                                 "  architecture: {type: unet, filters: 4, depth: 3, "
                                 "in_channels: 3}\noutput:\n  path: out.h5\n"
                                 "tile:\n  size: 16\n" +
                                 extra;
        RunConfig c = parse_config(yaml, (m_dir / "run.yaml").string(), m_dir);
        c.model.placeholder_seed = 3;
        c.runtime.threads = 3;
        return c;
    }

    fs::path m_dir;
    std::ostringstream m_text;
    std::shared_ptr<spdlog::logger> m_log;
    RunContext m_context;
};

TEST_F(RunPlanTest, EveryStageSeesTheOneGrid)
{
    const RunConfig cfg = config();
    std::unique_ptr<Reader> reader = make_gdal_reader(cfg.input);
    reader->prepare(m_context);
    const RasterInfo info = reader->info();
    InferStage inferer(cfg.model);
    inferer.prepare(m_context);
    const RunPlan plan(cfg, info, inferer.model());

    const TileGrid& grid = plan.grid();
    EXPECT_EQ(grid.image_width, 45);
    EXPECT_EQ(grid.image_height, 37);
    EXPECT_EQ(grid.tile_size, 16);
    EXPECT_EQ(grid.columns, 3);
    EXPECT_EQ(grid.rows, 3);
    EXPECT_EQ(grid.halo_px, inferer.model().facts().halo_px);
    EXPECT_EQ(static_cast<const TileGrid&>(plan.stitch_geometry()), grid);
    EXPECT_EQ(static_cast<const TileGrid&>(plan.output_layout()), grid);
    EXPECT_EQ(plan.stitch_geometry().channels, 1);
    EXPECT_EQ(plan.output_layout().channels, 1);
    EXPECT_EQ(plan.output_layout().geotransform, info.geotransform);
    EXPECT_EQ(plan.output_layout().crs_wkt, info.crs_wkt);

    // Provenance: the effective configuration (tile.size filled in), the model, the fingerprint.
    EXPECT_EQ(plan.write_options().model_sha256, "placeholder");
    EXPECT_NE(plan.write_options().config_yaml.find("size: 16"), std::string::npos);
    EXPECT_FALSE(plan.write_options().fingerprint.empty());
    EXPECT_EQ(plan.partial_path(), m_dir / "out.h5.partial");

    double total = 0;
    for (TileId id = 0; id < grid.count(); ++id)
        total += plan.flops().of(grid.task(id).window);
    EXPECT_GT(total, 0.0);
    EXPECT_DOUBLE_EQ(plan.flops().total(), total);
    EXPECT_EQ(plan.threads(), 3);
    EXPECT_EQ(plan.tiles_in_flight(), 3);

    plan.print_summary(*m_log);
    EXPECT_NE(m_text.str().find("  tiles   3 x 3 = 9 tiles of 16 px"), std::string::npos)
        << m_text.str();
}

// tile.executor: auto streams where the stream can run, else tiles with the reason; the choice
// is what the fingerprint and the recorded configuration say, and `stream` named cannot be
// forced where it cannot run.
TEST_F(RunPlanTest, AutoExecutorStreamsWhereItCanElseSaysWhy)
{
    using E = TileOptions::Executor;
    std::unique_ptr<Reader> reader = make_gdal_reader(config().input);
    reader->prepare(m_context);
    const RasterInfo info = reader->info();
    InferStage inferer(config().model);
    inferer.prepare(m_context);
    const infer::Model& model = inferer.model();
    const auto fingerprint_executor = [](const RunPlan& plan)
    {
        for (const auto& [field, value] : plan.write_options().fingerprint)
            if (field == "config.tile.executor")
                return value;
        return std::string("(none)");
    };

    const RunConfig automatic = config();
    ASSERT_EQ(automatic.tile.executor, E::automatic);
    const RunPlan streamed(automatic, info, model);
    EXPECT_EQ(streamed.executor().executor, E::stream);
    EXPECT_GT(streamed.executor().stream_buffer_bytes, 0u);
    EXPECT_EQ(fingerprint_executor(streamed), "stream");
    EXPECT_NE(streamed.write_options().config_yaml.find("executor: stream"), std::string::npos);
    streamed.print_summary(*m_log);
    EXPECT_NE(m_text.str().find(
                  "  executor stream (auto: every value computed once, full width, row buffers"),
              std::string::npos)
        << m_text.str();

    const struct
    {
        std::string extra;
        std::string why;
    } tiles_cases[] = {
        {"  halo: 8\n", "auto: stream needs tile.halo: exact (found 8 px)"},
        {"  stitch: blend\n", "auto: stream needs tile.stitch: crop (found blend)"},
        {"  executor: tiles\n", "tile.executor: tiles"},
    };
    for (const auto& c : tiles_cases)
    {
        const RunConfig cfg = config(c.extra);
        const RunPlan plan(cfg, info, model);
        EXPECT_EQ(plan.executor().executor, E::tiles) << c.extra;
        EXPECT_EQ(plan.executor().why, c.why);
        EXPECT_EQ(fingerprint_executor(plan), "tiles");
        EXPECT_NO_THROW(check_executor(cfg, model));
    }

    // Row buffers over the budget: tiles, saying how much the stream would need.
    const ExecutorChoice over =
        choose_executor(automatic, model, streamed.tiles(), std::size_t{1024});
    EXPECT_EQ(over.executor, E::tiles);
    EXPECT_NE(over.why.find("row buffers would take"), std::string::npos) << over.why;
    EXPECT_NE(over.why.find("above its 0.0 MiB budget"), std::string::npos) << over.why;

    // Named: no budget, but its preconditions are errors naming the key.
    const RunConfig named = config("  executor: stream\n");
    EXPECT_EQ(RunPlan(named, info, model).executor().executor, E::stream);
    try
    {
        check_executor(config("  executor: stream\n  halo: 8\n"), model);
        FAIL() << "stream with halo 8 accepted";
    }
    catch (const ConfigError& e)
    {
        EXPECT_NE(std::string(e.what()).find("tile.executor"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("found 8 px"), std::string::npos) << e.what();
    }
}

TEST_F(RunPlanTest, CheckpointCountsDoneTilesOnceAndAsksTheStitcher)
{
    const RunConfig cfg = config();
    std::unique_ptr<Reader> reader = make_gdal_reader(cfg.input);
    reader->prepare(m_context);
    const RasterInfo info = reader->info();
    InferStage inferer(cfg.model);
    inferer.prepare(m_context);
    const RunPlan plan(cfg, info, inferer.model());
    std::unique_ptr<Stitcher> stitcher = make_stitcher(cfg.stitch, plan.stitch_geometry());

    // A tile listed twice counts once; ids outside the grid are ignored.
    const Checkpoint checkpoint(plan, DoneWriter({1, 3, 1, 99, -1}), *stitcher);
    EXPECT_EQ(checkpoint.done_count(), 2);
    EXPECT_EQ(checkpoint.tile_count(), 9);
    EXPECT_FALSE(checkpoint.complete());
    EXPECT_EQ(checkpoint.needed(), (std::vector<TileId>{0, 2, 4, 5, 6, 7, 8}));
    checkpoint.print(*m_log, plan);
    EXPECT_NE(m_text.str().find("  resume  2 of 9 tiles already in " +
                                (m_dir / "out.h5.partial").string() + "; computing the other 7"),
              std::string::npos)
        << m_text.str();

    const Checkpoint all(plan, DoneWriter({0, 1, 2, 3, 4, 5, 6, 7, 8}), *stitcher);
    EXPECT_TRUE(all.complete());
    EXPECT_TRUE(all.needed().empty());
}

} // namespace
} // namespace atrous
