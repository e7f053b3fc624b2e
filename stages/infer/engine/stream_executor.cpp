// SPDX-License-Identifier: Apache-2.0
// Purpose: the streaming executor's loop: per step, each node computes its new rows into its row
// buffer (compacted when full), then the output's new rows are handed out.

#include "stream_executor.hpp"

#include "graph.hpp"

#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <sys/mman.h>

namespace atrous::infer
{
namespace
{

/// All row buffers of one pass in one block, not zeroed (every row is written before it is
/// read), on transparent huge pages where the OS has them: on 4 KiB pages the first touch of a
/// few hundred MiB of buffers cost ~40 % of a pass (page faults of a virtual machine).
class BufferBlock
{
public:
    explicit BufferBlock(std::size_t bytes)
        : m_bytes((bytes + k_align - 1) / k_align * k_align),
          m_data(m_bytes ? static_cast<float*>(::operator new (m_bytes, std::align_val_t{k_align}))
                         : nullptr)
    {
#ifdef MADV_HUGEPAGE
        if (m_data)
            ::madvise(m_data.get(), m_bytes, MADV_HUGEPAGE); // advice only: failure is harmless
#endif
    }
    float* data() const
    {
        return m_data.get();
    }

private:
    static constexpr std::size_t k_align = std::size_t{2} << 20; // a huge page
    struct Free
    {
        void operator()(float* p) const noexcept
        {
            ::operator delete (p, std::align_val_t{k_align});
        }
    };
    std::size_t m_bytes;
    std::unique_ptr<float[], Free> m_data;
};

/// Moves `count` floats from `src` to `dst` = `src` - `shift` on every thread (a skip buffer's
/// compaction moves tens of MiB; one thread's memmove left the others idle): in rounds of
/// `shift` floats, whose sources and destinations do not overlap.
void move_down(float* dst, const float* src, std::size_t count, std::size_t shift)
{
    constexpr std::size_t k_chunk = std::size_t{1} << 18; // floats (1 MiB) per task
    while (count > 0)
    {
        const std::size_t n = std::min(count, shift);
        oneapi::tbb::parallel_for(std::size_t{0}, (n + k_chunk - 1) / k_chunk,
                                  [&](std::size_t c)
                                  {
                                      const std::size_t at = c * k_chunk;
                                      std::memcpy(dst + at, src + at,
                                                  std::min(k_chunk, n - at) * sizeof(float));
                                  });
        dst += n;
        src += n;
        count -= n;
    }
}

/// The rows of one node kept in memory: rows [first, end) at the start of `data`.
struct RowBuffer
{
    float* data = nullptr; // 64-byte aligned, in the pass's BufferBlock
    std::size_t row_floats = 0;
    int capacity = 0;
    int first = 0;
    int end = 0;

    float* row(int r) { return data + static_cast<std::size_t>(r - first) * row_floats; }

    /// Makes room for rows up to `new_end`, dropping rows before `keep_from` if it must.
    void reserve(int new_end, int keep_from)
    {
        if (new_end - first <= capacity)
            return;
        const int from = std::min(keep_from, end);
        if (end > from && from > first)
            move_down(data, row(from), static_cast<std::size_t>(end - from) * row_floats,
                      static_cast<std::size_t>(from - first) * row_floats);
        first = from;
        if (new_end - first > capacity)
            throw std::logic_error("stream: row buffer of " + std::to_string(capacity) +
                                   " rows too small for rows " + std::to_string(first) + ".." +
                                   std::to_string(new_end));
    }
};

} // namespace

StreamExecutor::StreamExecutor(const Model& model, Shape input, int band_rows, KernelKind kernels,
                               bool bit_identical, int strip_width)
    : m_plan(model, input, band_rows, bit_identical, strip_width), m_kernels(kernels)
{
}

StreamStats StreamExecutor::run(const RowReader& read, const RowWriter& write) const
{
    return run(0, m_plan.nodes()[m_plan.model().graph().output_node()].shape.h, read, write);
}

StreamStats StreamExecutor::run(int first_row, int last_row, const RowReader& read,
                                const RowWriter& write) const
{
    StreamStats stats;
    for (const StreamPlan::Strip& strip : m_plan.strips())
    {
        const StreamStats s = run(first_row, last_row, strip, read, write);
        stats.steps += s.steps;
        stats.flops_computed += s.flops_computed;
        stats.flops_whole = s.flops_whole;
        stats.buffer_bytes = std::max(stats.buffer_bytes, s.buffer_bytes);
    }
    return stats;
}

StreamStats StreamExecutor::run(int first_row, int last_row, StreamPlan::Strip strip,
                                const RowReader& read, const RowWriter& write) const
{
    const Graph& graph = m_plan.model().graph();
    const std::vector<Node>& graph_nodes = graph.nodes();
    const std::vector<StreamNode>& nodes = m_plan.nodes();
    const int input = graph.input_node();
    const int output = graph.output_node();
    const StreamPlan::Schedule schedule = m_plan.schedule(first_row, last_row, strip);
    const StreamPlan::Columns cols = m_plan.columns(strip);

    // Each buffer starts on a cache line (64 bytes = 16 floats); its rows are its region's
    // columns.
    const auto row_floats = [&](std::size_t b)
    { return m_plan.region_row_floats(cols, static_cast<int>(b)); };
    const auto floats_of = [&](std::size_t b) {
        return (static_cast<std::size_t>(schedule.capacity_rows[b]) * row_floats(b) + 15) / 16 * 16;
    };
    std::size_t total = 0;
    for (std::size_t b = 0; b < nodes.size(); ++b)
        if (nodes[b].buffer == static_cast<int>(b))
            total += floats_of(b);
    const BufferBlock block(total * sizeof(float));
    std::vector<RowBuffer> buffers(nodes.size());
    std::size_t offset = 0;
    for (std::size_t b = 0; b < nodes.size(); ++b)
        if (nodes[b].buffer == static_cast<int>(b))
        {
            buffers[b].row_floats = row_floats(b);
            buffers[b].capacity = schedule.capacity_rows[b];
            buffers[b].data = block.data() + offset;
            buffers[b].first = buffers[b].end = schedule.begin[b];
            offset += floats_of(b);
        }

    StreamStats stats;
    stats.steps = static_cast<int>(schedule.ends.size());
    stats.flops_whole = m_plan.whole_image_flops();
    stats.buffer_bytes = schedule.buffer_bytes;
    std::vector<int> done = schedule.begin;
    std::vector<int> kept = schedule.begin;
    std::vector<const Tensor*> args;
    std::vector<Tensor> arg_views;
    const auto call = [&](const Node& node, Tensor& out, int pad_top, int pad_left)
    {
        args.clear();
        for (const Tensor& t : arg_views)
            args.push_back(&t);
        node.layer->forward_rows(args, out, m_kernels, pad_top, pad_left);
    };
    for (const std::vector<int>& next : schedule.ends)
    {
        for (std::size_t i = 0; i < nodes.size(); ++i)
        {
            const StreamNode& s = nodes[i];
            if (next[i] <= done[i] || s.buffer != static_cast<int>(i))
                continue; // nothing new, or an identity layer (its rows are its input's)
            RowBuffer& buffer = buffers[i];
            buffer.reserve(next[i], kept[i]);
            const int width = cols.width(static_cast<int>(i));
            Tensor out =
                Tensor::view(Shape{1, next[i] - done[i], width, s.shape.c}, buffer.row(done[i]));
            if (static_cast<int>(i) == input)
            {
                read(done[i], cols.begin[i], out);
                buffer.end = next[i];
                continue;
            }
            const Node& node = graph_nodes[i];
            // A window (transpose) layer reads its inputs' whole regions, skipping the columns
            // before the ones it needs through a negative padding. A rowwise or upsampling layer
            // reads exactly its columns: where an input's region is wider, it runs row by row on
            // views of those columns (each row contiguous).
            const bool window =
                s.col_map.kind == RowMap::Kind::window || s.col_map.kind == RowMap::Kind::transpose;
            bool row_by_row = false;
            int pad_top = 0;
            int pad_left = 0;
            std::vector<StreamPlan::InputRows> in_rows(node.inputs.size());
            std::vector<int> col_skip(node.inputs.size(), 0);  // columns before the ones read
            std::vector<int> col_count(node.inputs.size(), 0); // columns read
            for (std::size_t slot = 0; slot < node.inputs.size(); ++slot)
            {
                const int p = node.inputs[slot];
                const RowBuffer& source = buffers[nodes[p].buffer];
                in_rows[slot] = m_plan.input_rows(static_cast<int>(i), static_cast<int>(slot),
                                                  done[i], next[i]);
                const StreamPlan::InputRows c =
                    m_plan.input_columns(static_cast<int>(i), static_cast<int>(slot), cols.begin[i],
                                         cols.end[i], cols.begin[p]);
                if (in_rows[slot].begin < source.first || in_rows[slot].end > source.end ||
                    c.begin < cols.begin[p] || c.end > cols.end[p])
                    throw std::logic_error("stream: layer " + node.layer->name() +
                                           " reads rows or columns outside its input's buffer");
                if (slot == 0)
                {
                    pad_top = in_rows[slot].pad_before;
                    pad_left = c.pad_before;
                }
                col_skip[slot] = c.begin - cols.begin[p];
                col_count[slot] = c.end - c.begin;
                if (!window && (col_skip[slot] != 0 || c.end != cols.end[p]))
                    row_by_row = true;
            }
            if (!row_by_row)
            {
                arg_views.clear();
                for (std::size_t slot = 0; slot < node.inputs.size(); ++slot)
                {
                    const int p = node.inputs[slot];
                    RowBuffer& source = buffers[nodes[p].buffer];
                    arg_views.push_back(
                        Tensor::view(Shape{1, in_rows[slot].end - in_rows[slot].begin,
                                           cols.width(p), nodes[p].shape.c},
                                     source.row(in_rows[slot].begin)));
                }
                call(node, out, pad_top, pad_left);
            }
            else
            {
                // One input row at a time: it makes `factor` output rows (upsampling) or one.
                const int per_row = s.map.kind == RowMap::Kind::upsample ? s.map.factor : 1;
                for (int r = done[i]; r < next[i]; r += per_row)
                {
                    arg_views.clear();
                    for (std::size_t slot = 0; slot < node.inputs.size(); ++slot)
                    {
                        const int p = node.inputs[slot];
                        RowBuffer& source = buffers[nodes[p].buffer];
                        const int c = nodes[p].shape.c;
                        arg_views.push_back(
                            Tensor::view(Shape{1, 1, col_count[slot], c},
                                         source.row(r / per_row) +
                                             static_cast<std::size_t>(col_skip[slot]) * c));
                    }
                    const int rows = std::min(per_row, next[i] - r);
                    Tensor out_rows = Tensor::view(Shape{1, rows, width, s.shape.c}, buffer.row(r));
                    call(node, out_rows, 0, 0);
                }
            }
            // The layer's FLOPs per output pixel times the pixels computed (a transpose's
            // gather kernel does only the taps that reach the band's rows, though its input
            // band overlaps the next one by a row or two).
            stats.flops_computed += s.flops * (next[i] - done[i]) / s.shape.h * width / s.shape.w;
            buffer.end = next[i];
        }
        // The output's new rows within [first_row, last_row) (its rounding to its granule may
        // compute a few outside), the strip's columns (its region may be wider: copied out).
        const int from = std::max(done[output], first_row);
        const int to = std::min(next[output], last_row);
        if (to > from)
        {
            const StreamNode& s = nodes[output];
            RowBuffer& source = buffers[s.buffer];
            const int skip = strip.first - cols.begin[output];
            const int width = strip.end - strip.first;
            if (skip == 0 && width == cols.width(output))
                write(from, strip.first,
                      Tensor::view(Shape{1, to - from, width, s.shape.c}, source.row(from)));
            else
            {
                Tensor rows(Shape{1, to - from, width, s.shape.c});
                const std::size_t n = static_cast<std::size_t>(width) * s.shape.c;
                for (int r = from; r < to; ++r)
                    std::memcpy(rows.data() + (r - from) * n,
                                source.row(r) + static_cast<std::size_t>(skip) * s.shape.c,
                                n * sizeof(float));
                write(from, strip.first, rows);
            }
        }
        done = next;
        kept = m_plan.rows_kept_from(done);
    }
    return stats;
}

Tensor StreamExecutor::run(const Tensor& input, StreamStats* stats) const
{
    const Tensor contiguous = input.contiguous() ? Tensor() : Tensor(input);
    const Tensor& in = input.contiguous() ? input : contiguous;
    const Graph& graph = m_plan.model().graph();
    Tensor result(m_plan.nodes()[graph.output_node()].shape);
    const std::size_t in_row = static_cast<std::size_t>(in.shape().w) * in.shape().c;
    const std::size_t out_row = static_cast<std::size_t>(result.shape().w) * result.shape().c;
    // Copies rows of `count` floats between a strip's rows and the whole image's.
    const auto copy_rows = [](float* dst, std::size_t dst_row, const float* src,
                              std::size_t src_row, int rows, std::size_t count)
    {
        for (int r = 0; r < rows; ++r)
            std::memcpy(dst + r * dst_row, src + r * src_row, count * sizeof(float));
    };
    const int in_c = in.shape().c;
    const int out_c = result.shape().c;
    const StreamStats s = run(
        [&](int first_row, int first_col, Tensor& rows)
        {
            const std::size_t n = static_cast<std::size_t>(rows.shape().w) * in_c;
            copy_rows(rows.data(), n, in.data() + first_row * in_row + first_col * in_c, in_row,
                      rows.shape().h, n);
        },
        [&](int first_row, int first_col, const Tensor& rows)
        {
            const std::size_t n = static_cast<std::size_t>(rows.shape().w) * out_c;
            copy_rows(result.data() + first_row * out_row + first_col * out_c, out_row, rows.data(),
                      n, rows.shape().h, n);
        });
    if (stats)
        *stats = s;
    return result;
}

} // namespace atrous::infer
