// SPDX-License-Identifier: Apache-2.0
// Purpose: the stream executor's run: reads row bands through the read stage, streams them,
// cuts the output rows into tile cores for the writer.
#include "streaming_executor.hpp"

#include "pipeline/run/executor_choice.hpp"
#include "stages/error.hpp"
#include "stages/infer/engine/finite_scan.hpp"
#include "stages/infer/engine/stream_executor.hpp"
#include "stages/stitch/stitch_grid.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <deque>

namespace atrous
{
namespace
{

/// Thrown by the row reader or writer when a signal asks the run to stop: unwinds the stream
/// between two bands.
struct StopStream
{
};

/// Output rows of the current row of tiles and the input's valid rows until they are written.
class TileRowCutter
{
public:
    TileRowCutter(const TilePlan& plan, int channels) : m_plan(plan), m_channels(channels) {}

    /// The valid flags (padded width) of the next input row, in row order.
    void add_valid_row(const std::uint8_t* row)
    {
        m_valid.emplace_back(row, row + m_plan.padded_width());
    }

    /// Takes output row `y` (padded width x channels, NHWC); returns the tile row it completed,
    /// or -1.
    int add_output_row(int y, const float* row)
    {
        const std::vector<std::uint8_t> valid = std::move(m_valid.front());
        m_valid.pop_front();
        if (y >= m_plan.image_height())
            return -1; // padding below the image
        const std::size_t w = static_cast<std::size_t>(m_plan.image_width());
        m_probabilities.insert(m_probabilities.end(), row, row + w * m_channels);
        m_valid_rows.insert(m_valid_rows.end(), valid.begin(), valid.begin() + w);
        const int tile_row = y / m_plan.tile_size();
        const bool last =
            y + 1 == std::min(m_plan.image_height(), (tile_row + 1) * m_plan.tile_size());
        return last ? tile_row : -1;
    }

    /// The core of tile (tile_row, col) as the crop stitcher cuts it (planar, 0 where nodata).
    OutputBlock block(const TileTask& task) const
    {
        const int y0 = (task.core.y / m_plan.tile_size()) * m_plan.tile_size();
        return stitch::core_block(task.core, task.id, m_channels, m_probabilities.data(),
                                  m_valid_rows.data(), m_plan.image_width(), 0, y0);
    }

    /// Drops the rows of the tile row just cut.
    void clear()
    {
        m_probabilities.clear();
        m_valid_rows.clear();
    }

private:
    const TilePlan& m_plan;
    int m_channels;
    std::deque<std::vector<std::uint8_t>> m_valid; // input rows not yet output
    std::vector<float> m_probabilities;            // the tile row's output rows, image width
    std::vector<std::uint8_t> m_valid_rows;
};

/// The first output row of the first tile row with a tile not yet done (a resumed run streams
/// from there: StreamExecutor's segment re-warms from the input rows above); the padded height
/// when every tile is done.
int resume_row(const TilePlan& plan, const std::vector<std::uint8_t>& done)
{
    for (int row = 0; row < plan.rows(); ++row)
        for (int col = 0; col < plan.columns(); ++col)
            if (done[static_cast<std::size_t>(row) * plan.columns() + col] == 0)
                return row * plan.tile_size();
    return plan.padded_height();
}

} // namespace

ExecutionResult StreamingExecutor::run(const RunPlan& run_plan, const Checkpoint& checkpoint,
                                       RunStages& stages, const ExecutionContext& run)
{
    using Clock = std::chrono::steady_clock;
    const auto seconds_since = [](Clock::time_point t)
    { return std::chrono::duration<double>(Clock::now() - t).count(); };
    const TilePlan& plan = run_plan.tiles();
    const infer::Model& model = run_plan.model();
    const infer::ModelFacts& facts = model.facts();
    const std::vector<std::uint8_t>& done = checkpoint.done();
    const long long done_before = checkpoint.done_count();
    const int width = plan.padded_width();
    const infer::StreamExecutor stream(
        model, infer::Shape{1, plan.padded_height(), width, facts.in_channels},
        stream_band_rows(plan.stride()));
    const infer::StreamPlan& splan = stream.plan();
    run.log.info("  stream  {}, {:.2f} GFLOP (one whole-image pass of {} x {} px)", splan.summary(),
                 splan.whole_image_flops() / 1e9, width, plan.padded_height());
    const int first_row = resume_row(plan, done);
    if (done_before > 0)
        run.log.info("  stream  resumed: streams from output row {} (the first tile row not "
                     "done, re-warmed from the rows above), writes only the {} tiles not yet done",
                     first_row, plan.count() - done_before);

    const double gflop_per_tile_row = splan.whole_image_flops() / 1e9 / plan.rows();
    Progress progress(run.format, plan.count() - done_before,
                      gflop_per_tile_row * (plan.rows() - first_row / plan.tile_size()), stdout);
    TileRowCutter cutter(plan, facts.out_channels);
    double read_s = 0;
    double write_s = 0;
    long long tiles_written = 0;
    long long empty_tiles = 0;
    long long tiles_seen = 0; // tiles of the tile rows streamed so far (computed or not)

    const auto read_rows = [&](int first, infer::Tensor& rows)
    {
        if (run.watch.requested())
            throw StopStream{};
        const auto t0 = Clock::now();
        TileTask task;
        task.id = -1;
        task.window = {0, first, width, rows.shape().h};
        task.core = task.window;
        const RasterTile band = stages.reader.read(task);
        std::copy(band.pixels.data(), band.pixels.data() + band.pixels.size(), rows.data());
        for (int r = std::max(0, first_row - first); r < rows.shape().h; ++r)
            cutter.add_valid_row(band.valid.data() + static_cast<std::size_t>(r) * width);
        read_s += seconds_since(t0);
    };
    const auto write_rows = [&](int first, const infer::Tensor& rows)
    {
        if (run.watch.requested())
            throw StopStream{}; // between bands: the cores written so far are recorded
        // As the tile path's infer stage: a non-finite output stops the run, nothing of it written.
        if (const auto bad = infer::first_non_finite(rows))
            throw ModelError(
                "infer",
                fmt::format("stream: the network output holds {} at pixel (x {}, y {}) "
                            "channel {}; nothing of it is written. The model overflows "
                            "float32 on this input (check input.normalize and the "
                            "weights); tile.executor: tiles with --debug names the layer",
                            infer::non_finite_name(bad->value), bad->x, first + bad->y, bad->c));
        const auto t0 = Clock::now();
        for (int r = 0; r < rows.shape().h; ++r)
        {
            const int tile_row =
                cutter.add_output_row(first + r, rows.data() + rows.index(0, r, 0, 0));
            if (tile_row < 0)
                continue;
            for (int col = 0; col < plan.columns(); ++col)
            {
                const TileTask task =
                    plan.task(static_cast<TileId>(tile_row) * plan.columns() + col);
                ++tiles_seen;
                if (done[static_cast<std::size_t>(task.id)] != 0)
                    continue; // already in the resumed output
                const OutputBlock block = cutter.block(task);
                if (std::all_of(block.valid.begin(), block.valid.end(),
                                [](std::uint8_t v) { return v == 0; }))
                    ++empty_tiles;
                stages.writer.write(block);
                ++tiles_written;
                progress.advance(1, 0.0);
            }
            progress.advance(0, gflop_per_tile_row);
            cutter.clear();
        }
        write_s += seconds_since(t0);
    };

    const auto start = Clock::now();
    infer::StreamStats stats;
    bool interrupted = false;
    try
    {
        if (first_row < plan.padded_height())
            stats = stream.run(first_row, plan.padded_height(), read_rows, write_rows);
    }
    catch (const StopStream&)
    {
        interrupted = true;
    }
    progress.finish();
    const double seconds = seconds_since(start);
    if (!interrupted)
        run.log.info("  stream  {:.2f} GFLOP computed = {:.3f} x one whole-image pass, {} steps",
                     stats.flops_computed / 1e9, stats.flop_ratio(), stats.steps);

    const double write_loop_s = write_s;
    stages.stitcher.finish(run.context);
    const auto finish_start = Clock::now();
    stages.writer.finish(run.context);
    write_s += seconds_since(finish_start);
    stages.reader.finish(run.context);

    ExecutionResult r;
    r.executor = "stream";
    r.flop_ratio = stats.flop_ratio();
    r.tiles_taken = tiles_seen;
    r.tiles_written = tiles_written;
    r.empty_tiles = empty_tiles;
    r.interrupted = interrupted;
    r.seconds = seconds;
    r.read_seconds = read_s;
    r.infer_seconds = std::max(0.0, seconds - read_s - write_loop_s);
    r.write_seconds = write_s;
    r.busy_seconds = seconds;
    r.gflop = stats.flops_computed / 1e9;
    return r;
}

} // namespace atrous
