// SPDX-License-Identifier: Apache-2.0
// Purpose: the stream executor's run: reads row bands through the read stage, streams them,
// cuts the output rows into tile cores for the writer.
#include "streaming_executor.hpp"

#include "pipeline/comm/tile_dispenser.hpp"
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

/// A unit of work: whole tile rows [first_tile_row, end_tile_row), streamed as one segment of
/// StreamExecutor (a segment below the top re-warms from the input rows above it: bit-identical).
struct Segment
{
    int first_tile_row = 0;
    int end_tile_row = 0;
};

/// Tile rows per segment. One process: the whole image (no re-warm). Several ranks: about four
/// segments per rank (rank 0 hands them out as it hands out tiles, so fast ranks take more), each
/// at least two receptive reaches tall so the re-warm (at most one reach) stays a fraction of it.
int segment_tile_rows(const TilePlan& plan, int halo_px, int ranks)
{
    if (ranks <= 1)
        return plan.rows();
    const int by_ranks = (plan.rows() + 4 * ranks - 1) / (4 * ranks);
    const int by_reach = (2 * halo_px + plan.tile_size() - 1) / plan.tile_size();
    return std::clamp(std::max(by_ranks, by_reach), 1, plan.rows());
}

bool tile_row_done(const TilePlan& plan, const std::vector<std::uint8_t>& done, int row)
{
    for (int col = 0; col < plan.columns(); ++col)
        if (done[static_cast<std::size_t>(row) * plan.columns() + col] == 0)
            return false;
    return true;
}

/// The segments with a tile not yet done, each starting at its first tile row with one (a resumed
/// segment streams from there, re-warmed from the rows above).
std::vector<Segment> plan_segments(const TilePlan& plan, const std::vector<std::uint8_t>& done,
                                   int tile_rows)
{
    std::vector<Segment> segments;
    for (int first = 0; first < plan.rows(); first += tile_rows)
    {
        const int end = std::min(plan.rows(), first + tile_rows);
        int start = first;
        while (start < end && tile_row_done(plan, done, start))
            ++start;
        if (start < end)
            segments.push_back({start, end});
    }
    return segments;
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
    const int ranks = run.comm.size();
    const int tile_rows = segment_tile_rows(plan, facts.halo_px, ranks);
    const std::vector<Segment> segments = plan_segments(plan, done, tile_rows);
    if (ranks > 1)
        run.log.info("  stream  {} segments of up to {} tile rows ({} px) for {} ranks, each "
                     "re-warmed from the rows above it",
                     segments.size(), tile_rows, tile_rows * plan.tile_size(), ranks);
    else if (done_before > 0)
        run.log.info("  stream  resumed: streams from output row {} (the first tile row not "
                     "done, re-warmed from the rows above), writes only the {} tiles not yet done",
                     segments.empty() ? plan.padded_height()
                                      : segments.front().first_tile_row * plan.tile_size(),
                     plan.count() - done_before);

    const double gflop_per_tile_row = splan.whole_image_flops() / 1e9 / plan.rows();
    long long rows_to_stream = 0;
    for (const Segment& seg : segments)
        rows_to_stream += seg.end_tile_row - seg.first_tile_row;
    Progress progress(run.format, plan.count() - done_before,
                      gflop_per_tile_row * static_cast<double>(rows_to_stream), stdout);
    double read_s = 0;
    double write_s = 0;
    long long tiles_written = 0;
    long long empty_tiles = 0;
    long long tiles_seen = 0; // tiles of the tile rows streamed so far (computed or not)

    // One segment: output rows [first_row, last_row), cut into the cores of its tile rows.
    const auto stream_segment = [&](const Segment& seg) -> infer::StreamStats
    {
        const int first_row = seg.first_tile_row * plan.tile_size();
        const int last_row = std::min(plan.padded_height(), seg.end_tile_row * plan.tile_size());
        TileRowCutter cutter(plan, facts.out_channels);
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
            // As the tile path's infer stage: a non-finite output stops the run, nothing of it
            // written.
            if (const auto bad = infer::first_non_finite(rows))
                throw ModelError(
                    "infer",
                    fmt::format("stream: the network output holds {} at pixel (x {}, y {}) "
                                "channel {}; nothing of it is written. The model overflows "
                                "float32 on this input (check input.normalize and the "
                                "weights); tile.executor: tiles with --debug names the layer",
                                infer::non_finite_name(bad->value), bad->x, first + bad->y,
                                bad->c));
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
        return stream.run(first_row, last_row, read_rows, write_rows);
    };

    // Segments from rank 0's dispenser (one process: in order), as tiles are handed out.
    std::vector<TileId> segment_ids(segments.size());
    for (std::size_t i = 0; i < segments.size(); ++i)
        segment_ids[i] = static_cast<TileId>(i);
    TileDispenser dispenser(std::move(segment_ids), run.watch, run.comm);
    const auto start = Clock::now();
    infer::StreamStats stats;
    stats.flops_whole = splan.whole_image_flops();
    bool interrupted = false;
    long long segments_taken = 0;
    while (const std::optional<TileId> id = dispenser.next())
    {
        try
        {
            const infer::StreamStats s = stream_segment(segments[static_cast<std::size_t>(*id)]);
            stats.steps += s.steps;
            stats.flops_computed += s.flops_computed;
            ++segments_taken;
        }
        catch (const StopStream&)
        {
            interrupted = true; // the next next() sees the signal, tells rank 0, returns nothing
        }
    }
    interrupted = interrupted || dispenser.interrupted();
    progress.finish();
    dispenser.close();
    const double seconds = seconds_since(start);
    if (!interrupted)
        run.log.info("  stream  {:.2f} GFLOP computed = {:.3f} x one whole-image pass, {} steps{}",
                     stats.flops_computed / 1e9, stats.flop_ratio(), stats.steps,
                     ranks > 1 ? fmt::format(" (this rank, {} segments)", segments_taken)
                               : std::string());

    const double write_loop_s = write_s;
    stages.stitcher.finish(run.context);
    const auto finish_start = Clock::now();
    stages.writer.finish(run.context); // collective under MPI
    write_s += seconds_since(finish_start);
    stages.reader.finish(run.context);

    ExecutionResult r;
    r.executor = "stream";
    r.flop_ratio = stats.flop_ratio(); // this rank's share; the report sums the ranks'
    r.tiles_taken = tiles_seen;
    r.tiles_written = tiles_written;
    r.empty_tiles = empty_tiles;
    r.interrupted = interrupted;
    r.seconds = seconds;
    r.read_seconds = read_s;
    r.infer_seconds = std::max(0.0, seconds - read_s - write_loop_s);
    r.write_seconds = write_s;
    r.busy_seconds = seconds;
    r.wait_seconds = dispenser.wait_seconds();
    r.gflop = stats.flops_computed / 1e9;
    return r;
}

} // namespace atrous
