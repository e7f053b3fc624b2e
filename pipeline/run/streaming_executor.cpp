// SPDX-License-Identifier: Apache-2.0
// Purpose: the stream executor's run: reads row bands through the read stage (one band ahead, on
// a reading thread), streams them, cuts the output rows into tile cores for the writer (on a
// writer thread behind a bounded queue).
#include "streaming_executor.hpp"

#include "pipeline/comm/tile_dispenser.hpp"
#include "pipeline/run/executor_choice.hpp"
#include "pipeline/run/serial_worker.hpp"
#include "stages/error.hpp"
#include "stages/infer/engine/finite_scan.hpp"
#include "stages/infer/engine/graph.hpp"
#include "stages/infer/engine/stream_executor.hpp"
#include "stages/stitch/stitch_grid.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <span>
#include <utility>
#include <vector>

namespace atrous
{
namespace
{

/// Thrown by the row reader or writer when a signal asks the run to stop: unwinds the stream
/// between two bands.
struct StopStream
{
};

/// Output columns [first, end) of the padded image: a strip of the stream, whole tile columns.
struct Columns
{
    int first = 0;
    int end = 0;
    int width() const { return end - first; }
};

/// Output rows of the current row of tiles of a strip with their valid flags, until they are
/// written.
class TileRowCutter
{
public:
    TileRowCutter(const TilePlan& plan, int channels, Columns strip)
        : m_plan(plan), m_channels(channels), m_strip(strip)
    {
    }

    /// Takes output row `y` of the strip (its width x channels, NHWC) and the valid flags (its
    /// width) of input row `y`; returns the tile row it completed, or -1.
    int add_output_row(int y, const float* row, const std::uint8_t* valid)
    {
        if (y >= m_plan.image_height())
            return -1; // padding below the image
        const std::size_t w = static_cast<std::size_t>(m_strip.width());
        m_probabilities.insert(m_probabilities.end(), row, row + w * m_channels);
        m_valid_rows.insert(m_valid_rows.end(), valid, valid + w);
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
                                  m_valid_rows.data(), m_strip.width(), m_strip.first, y0);
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
    Columns m_strip;
    std::vector<float> m_probabilities; // the tile row's output rows, strip width
    std::vector<std::uint8_t> m_valid_rows;
};

/// A band of output rows handed to the writer thread: copied out of the stream's row buffer
/// (which the next band overwrites), with the valid flags of the same input rows.
struct OutputBand
{
    int first = 0;
    int rows = 0;
    std::vector<float> probabilities; // rows x strip width x channels (NHWC)
    std::vector<std::uint8_t> valid;  // rows x strip width
};

/// Input row windows [first, end) in the order the stream reads them (StreamExecutor::run reads
/// the input node's new rows of each step of the schedule).
std::vector<std::pair<int, int>> read_windows(const infer::StreamPlan& plan, int first_row,
                                              int last_row, infer::StreamStrip strip)
{
    const auto input = static_cast<std::size_t>(plan.model().graph().input_node());
    // The segment's own strip: without one, the schedule sizes the buffers of every strip.
    const infer::StreamPlan::Schedule schedule = plan.schedule(first_row, last_row, strip);
    std::vector<std::pair<int, int>> windows;
    int done = schedule.begin[input];
    for (const std::vector<int>& next : schedule.ends)
        if (next[input] > done)
        {
            windows.emplace_back(done, next[input]);
            done = next[input];
        }
    return windows;
}

/// A read of rows [first, first + count) of columns `cols` (no tile: id -1).
TileTask rows_task(int first, int count, Columns cols)
{
    TileTask task;
    task.id = -1;
    task.window = {cols.first, first, cols.width(), count};
    task.core = task.window;
    return task;
}

/// True when every valid flag of `valid` is 0.
bool all_nodata(std::span<const std::uint8_t> valid)
{
    return std::all_of(valid.begin(), valid.end(), [](std::uint8_t v) { return v == 0; });
}

/// Reads the stream's input bands on a thread of its own, one band ahead: while the stream
/// computes band k, band k + 1 (the next window of the schedule) is read. Only that thread calls
/// the reader. A band asked for out of the expected order is read then and there (still on that
/// thread).
class BandReader
{
public:
    BandReader(Reader& reader, Columns cols, std::vector<std::pair<int, int>> windows)
        : m_reader(reader), m_cols(cols), m_windows(std::move(windows)), m_worker(1)
    {
        if (!m_windows.empty())
            start(m_windows.front());
    }

    /// Input rows [first, first + count) of the padded image; adds the seconds the caller waited
    /// for them to `wait_s`. Throws the reader's errors.
    RasterTile take(int first, int count, double& wait_s)
    {
        const std::pair<int, int> window{first, first + count};
        if (!m_pending || m_next >= m_windows.size() || m_windows[m_next] != window)
        {
            wait_s += m_worker.drain(); // a read ahead of another window: discarded
            m_next = static_cast<std::size_t>(
                std::find(m_windows.begin(), m_windows.end(), window) - m_windows.begin());
            start(window);
        }
        wait_s += m_worker.drain();
        m_pending = false;
        RasterTile band = std::move(m_band);
        if (m_next < m_windows.size() && m_windows[m_next] == window &&
            m_next + 1 < m_windows.size())
        {
            ++m_next;
            start(m_windows[m_next]);
        }
        return band;
    }

    /// Seconds the reading thread spent reading.
    double seconds() const { return m_worker.busy_seconds(); }

private:
    void start(std::pair<int, int> window)
    {
        const TileTask task = rows_task(window.first, window.second - window.first, m_cols);
        m_pending = true;
        m_worker.push([this, task] { m_band = m_reader.read(task); });
    }

    Reader& m_reader;
    Columns m_cols;
    std::vector<std::pair<int, int>> m_windows;
    std::size_t m_next = 0; // index of the window read or being read ahead
    bool m_pending = false; // a read was started and not taken yet
    RasterTile m_band;      // the read's result: written by the worker, taken after drain()
    SerialWorker m_worker;  // last: destroyed (joined) first
};

/// A unit of work: tile rows [first_tile_row, end_tile_row) of a strip, streamed as one segment
/// of StreamExecutor (a segment below the top re-warms from the input rows above it:
/// bit-identical), or, when `nodata`, tile rows whose every core is nodata: written as nodata, not
/// streamed.
struct Segment
{
    int strip = 0; // index in StreamPlan::strips()
    int first_tile_row = 0;
    int end_tile_row = 0;
    bool nodata = false;
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

/// The tile columns of output columns `cols` (whole tiles).
std::pair<int, int> tile_columns(const TilePlan& plan, Columns cols)
{
    return {cols.first / plan.tile_size(),
            std::min(plan.columns(), (cols.end + plan.tile_size() - 1) / plan.tile_size())};
}

/// True when every tile of tile row `row` in output columns `cols` is done.
bool tile_row_done(const TilePlan& plan, const std::vector<std::uint8_t>& done, int row,
                   Columns cols)
{
    const auto [first, end] = tile_columns(plan, cols);
    for (int col = first; col < end; ++col)
        if (done[static_cast<std::size_t>(row) * plan.columns() + col] == 0)
            return false;
    return true;
}

/// Per tile row and strip (index row * strips + strip), 1 when the core of each of the strip's
/// tiles in that row is nodata: found by reading the tile rows not yet done once (core rows only:
/// no halo) when the input can hold nodata (a nodata value or a mask; under MPI each rank reads
/// every size-th row and the ranks combine what they found); all 0 otherwise. Such strip rows need
/// no inference (their cores are written as nodata, as the tile executor writes an empty tile),
/// and a segment below them re-warms from their rows as from any other (read as zeros, as the
/// whole-image pass reads them): bit-identical. So a mosaic's gaps are skipped where they span a
/// strip's width, not only the image's.
std::vector<std::uint8_t> nodata_tile_rows(const TilePlan& plan, Reader& reader,
                                           const std::vector<std::uint8_t>& done,
                                           const std::vector<Columns>& strips, Communicator& comm)
{
    const std::size_t n = strips.size();
    std::vector<std::uint8_t> nodata(static_cast<std::size_t>(plan.rows()) * n, 0);
    const RasterInfo info = reader.info();
    if (!info.nodata && info.mask.empty())
        return nodata;
    const int width = plan.image_width();
    for (int row = comm.rank(); row < plan.rows(); row += comm.size())
    {
        if (tile_row_done(plan, done, row, {0, plan.padded_width()}))
            continue;
        const int y = row * plan.tile_size();
        const int h = std::min(plan.tile_size(), plan.image_height() - y);
        const RasterTile band = reader.read(rows_task(y, h, {0, width}));
        for (std::size_t s = 0; s < n; ++s)
        {
            const int x0 = std::min(strips[s].first, width);
            const int x1 = std::min(strips[s].end, width);
            bool empty = true;
            for (int r = 0; r < h && empty; ++r)
                empty = all_nodata(std::span<const std::uint8_t>(band.valid)
                                       .subspan(static_cast<std::size_t>(r) * width + x0,
                                                static_cast<std::size_t>(x1 - x0)));
            nodata[static_cast<std::size_t>(row) * n + s] = empty ? 1 : 0;
        }
    }
    comm.max(nodata); // the same on every rank (its segments are planned from it)
    return nodata;
}

/// The segments with a tile not yet done, strip after strip: runs of tile rows cut at
/// `tile_rows` and where the all-nodata rows begin and end, each streamed run starting at its
/// first tile row with a tile of the strip not done (a resumed segment streams from there,
/// re-warmed from the rows above).
std::vector<Segment> plan_segments(const TilePlan& plan, const std::vector<std::uint8_t>& done,
                                   int tile_rows, const std::vector<std::uint8_t>& nodata,
                                   const std::vector<Columns>& strips)
{
    std::vector<Segment> segments;
    const std::size_t n = strips.size();
    for (int strip = 0; strip < static_cast<int>(n); ++strip)
        for (int first = 0; first < plan.rows(); first += tile_rows)
        {
            const auto empty_at = [&](int row) {
                return nodata[static_cast<std::size_t>(row) * n +
                              static_cast<std::size_t>(strip)] != 0;
            };
            const int end = std::min(plan.rows(), first + tile_rows);
            for (int run = first; run < end;)
            {
                const bool empty = empty_at(run);
                int run_end = run + 1;
                while (run_end < end && empty_at(run_end) == empty)
                    ++run_end;
                int start = run;
                while (start < run_end && tile_row_done(plan, done, start, strips[strip]))
                    ++start;
                if (start < run_end)
                    segments.push_back({strip, start, run_end, empty});
                run = run_end;
            }
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
        stream_band_rows(plan.stride()), infer::KernelKind::fast, true,
        run_plan.executor().stream_strip_px);
    const infer::StreamPlan& splan = stream.plan();
    std::vector<Columns> strips;
    for (const infer::StreamStrip& strip : splan.strips())
        strips.push_back({strip.first, strip.end});
    run.log.info("  stream  {}, {:.2f} GFLOP (one whole-image pass of {} x {} px)", splan.summary(),
                 splan.whole_image_flops() / 1e9, width, plan.padded_height());
    const int ranks = run.comm.size();
    const int tile_rows = segment_tile_rows(plan, facts.halo_px, ranks);
    const std::vector<std::uint8_t> nodata_rows =
        nodata_tile_rows(plan, stages.reader, done, strips, run.comm);
    const std::vector<Segment> segments = plan_segments(plan, done, tile_rows, nodata_rows, strips);
    if (const auto skipped = std::count(nodata_rows.begin(), nodata_rows.end(), 1); skipped > 0)
        run.log.info("  stream  skips {} of {} tile rows{}: every core in them is nodata (written "
                     "as nodata, not streamed)",
                     skipped, nodata_rows.size(), strips.size() > 1 ? " of strips" : "");
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

    // GFLOP of one whole-image pass per tile row of a strip.
    const auto gflop_per_tile_row = [&](int strip)
    {
        return splan.whole_image_flops() / 1e9 / plan.rows() *
               strips[static_cast<std::size_t>(strip)].width() / width;
    };
    double gflop_to_stream = 0;
    for (const Segment& seg : segments)
        if (!seg.nodata)
            gflop_to_stream +=
                gflop_per_tile_row(seg.strip) * (seg.end_tile_row - seg.first_tile_row);
    Progress progress(run.format, plan.count() - done_before, gflop_to_stream, stdout);
    long long tiles_written = 0;
    long long empty_tiles = 0;
    long long tiles_seen = 0; // tiles of the tile rows streamed so far (computed or not)
    // Writes the cores not yet done of tile `row` in columns `cols`, each cut by
    // `block_of(task)`.
    const auto write_tile_row = [&](int row, Columns cols, const auto& block_of)
    {
        const auto [first_col, end_col] = tile_columns(plan, cols);
        for (int col = first_col; col < end_col; ++col)
        {
            const TileTask task = plan.task(static_cast<TileId>(row) * plan.columns() + col);
            ++tiles_seen;
            if (done[static_cast<std::size_t>(task.id)] != 0)
                continue; // already in the resumed output
            const OutputBlock block = block_of(task);
            if (all_nodata(block.valid))
                ++empty_tiles;
            stages.writer.write(block);
            ++tiles_written;
            progress.advance(1, 0.0);
        }
    };
    double read_s = 0;  // on the reading threads
    double write_s = 0; // on the writer threads
    double wait_s = 0;  // the stream's loop waiting for a band read or room to write

    // One segment: output rows [first_row, last_row), cut into the cores of its tile rows. Three
    // threads: the stream's loop (the caller's thread and TBB's), a reading thread one band
    // ahead, and a writer thread behind a queue of about two tile rows that cuts and writes in
    // the order a single thread would.
    const auto stream_segment = [&](const Segment& seg) -> infer::StreamStats
    {
        const int first_row = seg.first_tile_row * plan.tile_size();
        const int last_row = std::min(plan.padded_height(), seg.end_tile_row * plan.tile_size());
        const Columns strip = strips[static_cast<std::size_t>(seg.strip)];
        const infer::StreamStrip stream_strip{strip.first, strip.end};
        // The input columns the strip's layers read (its region at the input node).
        const infer::StreamPlan::Columns regions = splan.columns(stream_strip);
        const int input_node = model.graph().input_node();
        const Columns in_cols{regions.begin[static_cast<std::size_t>(input_node)],
                              regions.end[static_cast<std::size_t>(input_node)]};
        const int strip_w = strip.width();
        TileRowCutter cutter(plan, facts.out_channels, strip); // the writer thread's
        // On the writer thread: cuts a band's rows into the tile row, writes its cores once
        // complete.
        const auto write_band = [&](const OutputBand& band)
        {
            const std::size_t row_floats = static_cast<std::size_t>(strip_w) * facts.out_channels;
            for (int r = 0; r < band.rows; ++r)
            {
                const int tile_row = cutter.add_output_row(
                    band.first + r, band.probabilities.data() + r * row_floats,
                    band.valid.data() + static_cast<std::size_t>(r) * strip_w);
                if (tile_row < 0)
                    continue;
                write_tile_row(tile_row, strip,
                               [&](const TileTask& task) { return cutter.block(task); });
                progress.advance(0, gflop_per_tile_row(seg.strip));
                cutter.clear();
            }
        };

        // The valid flags of the strip's columns of the input rows read and not yet output (the
        // stream's thread only).
        std::deque<std::vector<std::uint8_t>> pending_valid;
        BandReader reader(stages.reader, in_cols,
                          read_windows(splan, first_row, last_row, stream_strip));
        // Declared last: destroyed (its queued bands written, joined) first.
        SerialWorker writer(static_cast<std::size_t>(
            std::max(2, plan.tile_size() / std::max(1, stream_band_rows(plan.stride())))));
        const auto read_rows = [&](int first, int first_col, infer::Tensor& rows)
        {
            if (run.watch.requested())
                throw StopStream{};
            writer.check(); // a failed write stops the stream at the next band
            if (first_col != in_cols.first || rows.shape().w != in_cols.width())
                throw std::logic_error("stream: input columns asked for are not the strip's");
            const RasterTile band = reader.take(first, rows.shape().h, wait_s);
            std::copy(band.pixels.data(), band.pixels.data() + band.pixels.size(), rows.data());
            for (int r = std::max(0, first_row - first); r < rows.shape().h; ++r)
            {
                const std::uint8_t* row = band.valid.data() +
                                          static_cast<std::size_t>(r) * in_cols.width() +
                                          (strip.first - in_cols.first);
                pending_valid.emplace_back(row, row + strip_w);
            }
        };
        const auto write_rows = [&](int first, int /*first_col*/, const infer::Tensor& rows)
        {
            if (run.watch.requested())
                throw StopStream{}; // between bands: the cores handed over are written
            // As the tile path's infer stage: a non-finite output stops the run, nothing of it
            // written.
            if (const auto bad = infer::first_non_finite(rows))
                throw ModelError(
                    "infer",
                    fmt::format("stream: the network output holds {} at pixel (x {}, y {}) "
                                "channel {}; nothing of it is written. The model overflows "
                                "float32 on this input (check input.normalize and the "
                                "weights); tile.executor: tiles with --debug names the layer",
                                infer::non_finite_name(bad->value), strip.first + bad->x,
                                first + bad->y, bad->c));
            OutputBand band;
            band.first = first;
            band.rows = rows.shape().h;
            band.probabilities.assign(rows.data(), rows.data() + rows.size());
            band.valid.reserve(static_cast<std::size_t>(band.rows) * strip_w);
            for (int r = 0; r < band.rows; ++r)
            {
                band.valid.insert(band.valid.end(), pending_valid.front().begin(),
                                  pending_valid.front().end());
                pending_valid.pop_front();
            }
            wait_s += writer.push([&write_band, band = std::move(band)] { write_band(band); });
        };

        infer::StreamStats s;
        bool stopped = false;
        try
        {
            s = stream.run(first_row, last_row, stream_strip, read_rows, write_rows);
        }
        catch (const StopStream&)
        {
            stopped = true;
        }
        wait_s += writer.drain(); // every band handed over written (a write error thrown here)
        read_s += reader.seconds();
        write_s += writer.busy_seconds();
        if (stopped)
            throw StopStream{};
        return s;
    };

    // Tile rows whose every core is nodata: their cores not yet done written as nodata (on this
    // thread: no segment's writer thread runs between segments), as the tile executor writes an
    // empty tile. A signal stops it between two tile rows.
    const auto write_nodata_segment = [&](const Segment& seg)
    {
        for (int row = seg.first_tile_row; row < seg.end_tile_row; ++row)
        {
            if (run.watch.requested())
                throw StopStream{};
            write_tile_row(row, strips[static_cast<std::size_t>(seg.strip)],
                           [&](const TileTask& task) {
                               return stitch::nodata_block(task.core, facts.out_channels, task.id);
                           });
        }
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
            const Segment& seg = segments[static_cast<std::size_t>(*id)];
            if (seg.nodata)
            {
                write_nodata_segment(seg);
                continue;
            }
            const infer::StreamStats s = stream_segment(seg);
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

    stages.stitcher.finish(run.context);
    const auto finish_start = Clock::now();
    stages.writer.finish(run.context); // collective under MPI
    const double finish_s = seconds_since(finish_start);
    stages.reader.finish(run.context);

    ExecutionResult r;
    r.executor = "stream";
    r.flop_ratio = stats.flop_ratio(); // this rank's share; the report sums the ranks'
    r.tiles_taken = tiles_seen;
    r.tiles_written = tiles_written;
    r.empty_tiles = empty_tiles;
    r.interrupted = interrupted;
    r.seconds = seconds;
    r.wait_seconds = dispenser.wait_seconds();
    r.read_seconds = read_s;                                            // on the reading threads
    r.infer_seconds = std::max(0.0, seconds - wait_s - r.wait_seconds); // the stream's loop
    r.write_seconds = write_s + finish_s; // on the writer threads, then finish
    r.busy_seconds = r.read_seconds + r.infer_seconds + r.write_seconds;
    r.gflop = stats.flops_computed / 1e9;
    return r;
}

} // namespace atrous
