// SPDX-License-Identifier: Apache-2.0
// Purpose: stream planning: per node the rows a band reads (RowMap), the rows each step computes
// (derived backwards from the output's band), and the row buffers' sizes (simulated once).

#include "stream_plan.hpp"

#include "graph.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <stdexcept>

namespace atrous::infer
{
namespace
{

int floor_div(int a, int b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

int ceil_div(int a, int b)
{
    return floor_div(a + b - 1, b);
}

/// The end of the input rows that output rows [0, out_end) read.
int input_end(const RowMap& m, int out_end, int in_h)
{
    if (out_end <= 0)
        return 0;
    int end = in_h;
    switch (m.kind)
    {
    case RowMap::Kind::rowwise:
        end = out_end;
        break;
    case RowMap::Kind::window:
        end = (out_end - 1) * m.stride - m.pad_before + m.k_eff;
        break;
    case RowMap::Kind::transpose:
        end = floor_div(out_end - 1 + m.pad_before, m.stride) + 1;
        break;
    case RowMap::Kind::upsample:
        end = ceil_div(out_end, m.factor);
        break;
    case RowMap::Kind::none:
        break;
    }
    return std::clamp(end, 0, in_h);
}

/// The first input row that output rows from `out_begin` on read (in_h when none are left).
/// A transpose starts at a row whose taps reach `out_begin` at the latest: its band's leading
/// padding is then never negative (one row more than needed at most).
int input_begin(const RowMap& m, int out_begin, int in_h, int out_h)
{
    if (out_begin >= out_h)
        return in_h;
    int begin = 0;
    switch (m.kind)
    {
    case RowMap::Kind::rowwise:
    case RowMap::Kind::none:
        begin = out_begin;
        break;
    case RowMap::Kind::window:
        begin = out_begin * m.stride - m.pad_before;
        break;
    case RowMap::Kind::transpose:
        begin = floor_div(out_begin + m.pad_before - (m.k_eff - 1), m.stride);
        break;
    case RowMap::Kind::upsample:
        begin = out_begin / m.factor;
        break;
    }
    return std::clamp(begin, 0, in_h);
}

int round_up(int rows, int granule)
{
    return (rows + granule - 1) / granule * granule;
}

/// The most output rows [0, n) computable from input rows [0, in_end) (input_end's inverse).
int output_end(const RowMap& m, int in_end, int in_h, int out_h)
{
    if (in_end >= in_h)
        return out_h;
    int end = out_h;
    switch (m.kind)
    {
    case RowMap::Kind::rowwise:
    case RowMap::Kind::none:
        end = in_end;
        break;
    case RowMap::Kind::window:
        end = floor_div(in_end - m.k_eff + m.pad_before, m.stride) + 1;
        break;
    case RowMap::Kind::transpose:
        end = in_end * m.stride - m.pad_before;
        break;
    case RowMap::Kind::upsample:
        end = in_end * m.factor;
        break;
    }
    return std::clamp(end, 0, out_h);
}

} // namespace

std::string StreamPlan::blocker(const Model& model)
{
    const Graph& graph = model.graph();
    for (std::size_t i = 0; i < graph.nodes().size(); ++i)
    {
        if (static_cast<int>(i) == graph.input_node())
            continue;
        const Node& node = graph.nodes()[i];
        const std::vector<Shape> unknown(node.inputs.size(), Shape{0, 0, 0, 0});
        const RowMap map = node.layer->axis_map(unknown, Axis::y);
        if (map.kind == RowMap::Kind::none)
            return node.layer->class_name() + " " + node.layer->name() + " (" + map.reason + ")";
    }
    return "";
}

StreamPlan::StreamPlan(const Model& model, Shape input, int band_rows, bool bit_identical,
                       int strip_width)
    : m_model(&model), m_graph(&model.graph()), m_band_rows(band_rows),
      m_bit_identical(bit_identical)
{
    const std::string where = "model " + model.name();
    if (const std::string why = blocker(model); !why.empty())
        throw ModelError(where, "not streamable: " + why);
    if (input.n != 1)
        throw ModelError(where, "a stream takes one image (batch 1), " + std::to_string(input.n) +
                                    " found");
    if (band_rows < 1)
        throw ModelError(where, "a stream band of >= 1 rows expected, " +
                                    std::to_string(band_rows) + " found");
    const std::vector<Shape> shapes = m_graph->plan(input);
    const std::vector<Node>& graph_nodes = m_graph->nodes();
    m_nodes.resize(graph_nodes.size());
    for (std::size_t i = 0; i < graph_nodes.size(); ++i)
    {
        const Node& node = graph_nodes[i];
        StreamNode& s = m_nodes[i];
        std::vector<Shape> in_shapes;
        for (int p : node.inputs)
            in_shapes.push_back(shapes[p]);
        const bool is_input = static_cast<int>(i) == m_graph->input_node();
        s.map = is_input ? RowMap::rows() : node.layer->axis_map(in_shapes, Axis::y);
        s.col_map = is_input ? RowMap::rows() : node.layer->axis_map(in_shapes, Axis::x);
        s.buffer = !is_input && node.layer->is_identity() ? m_nodes[node.inputs[0]].buffer
                                                          : static_cast<int>(i);
        s.granule = s.map.kind == RowMap::Kind::upsample ? s.map.factor
                    : bit_identical                      ? s.map.granule
                                                         : 1;
        s.col_granule = s.col_map.kind == RowMap::Kind::upsample ? s.col_map.factor
                        : bit_identical                          ? s.col_map.granule
                                                                 : 1;
        s.shape = shapes[i];
        s.flops = is_input ? 0.0 : node.layer->flops(in_shapes, s.shape);
        m_whole_flops += s.flops;
    }

    const Shape& out = m_nodes[m_graph->output_node()].shape;
    m_strip_width = strip_width > 0 ? std::min(strip_width, out.w) : out.w;
    const Schedule whole = schedule(0, out.h);
    m_steps = static_cast<int>(whole.ends.size());
    for (std::size_t b = 0; b < m_nodes.size(); ++b)
        m_nodes[b].capacity_rows = whole.capacity_rows[b];
    m_buffer_bytes = whole.buffer_bytes;
    if (m_whole_flops > 0)
    {
        double flops = 0;
        for (const Strip& strip : strips())
        {
            const Columns c = columns(strip);
            for (std::size_t i = 0; i < m_nodes.size(); ++i)
                if (m_nodes[i].buffer == static_cast<int>(i))
                    flops += m_nodes[i].flops * std::max(0, c.width(static_cast<int>(i))) /
                             m_nodes[i].shape.w;
        }
        m_strips_flop_ratio = flops / m_whole_flops;
    }
}

std::vector<StreamPlan::Strip> StreamPlan::strips() const
{
    const int w = m_nodes[m_graph->output_node()].shape.w;
    std::vector<Strip> strips;
    for (int x = 0; x < w; x += m_strip_width)
        strips.push_back({x, std::min(w, x + m_strip_width)});
    return strips;
}

StreamPlan::Columns StreamPlan::columns(Strip strip) const
{
    // Backwards from the output, as first_rows and target_rows: each node's region is every
    // column its consumers read, its begin rounded down and its end up to its column granule.
    const std::vector<Node>& graph_nodes = m_graph->nodes();
    const int out = m_graph->output_node();
    const int out_w = m_nodes[out].shape.w;
    if (strip.first < 0 || strip.first >= strip.end || strip.end > out_w)
        throw std::invalid_argument("stream: output columns [" + std::to_string(strip.first) +
                                    ", " + std::to_string(strip.end) + ") outside [0, " +
                                    std::to_string(out_w) + ")");
    Columns c;
    c.begin.resize(m_nodes.size());
    c.end.assign(m_nodes.size(), 0);
    for (std::size_t i = 0; i < m_nodes.size(); ++i)
        c.begin[i] = m_nodes[i].shape.w;
    c.begin[out] = strip.first;
    c.end[out] = strip.end;
    for (int i = static_cast<int>(m_nodes.size()) - 1; i >= 0; --i)
    {
        const StreamNode& s = m_nodes[i];
        if (c.end[i] <= c.begin[i])
            continue; // nothing of it read in this strip (not on the output's path)
        c.begin[i] = c.begin[i] / s.col_granule * s.col_granule;
        c.end[i] = std::min(s.shape.w, round_up(c.end[i], s.col_granule));
        if (i == m_graph->input_node())
            continue;
        for (int p : graph_nodes[i].inputs)
        {
            const int in_w = m_nodes[p].shape.w;
            c.begin[p] = std::min(c.begin[p], input_begin(s.col_map, c.begin[i], in_w, s.shape.w));
            c.end[p] = std::max(c.end[p], input_end(s.col_map, c.end[i], in_w));
        }
    }
    // An identity node's rows are its buffer's: so are its columns.
    for (std::size_t i = 0; i < m_nodes.size(); ++i)
    {
        const int b = m_nodes[i].buffer;
        c.begin[i] = c.begin[b];
        c.end[i] = c.end[b];
    }
    return c;
}

std::size_t StreamPlan::region_row_floats(const Columns& columns, int node) const
{
    return static_cast<std::size_t>(std::max(0, columns.width(node))) *
           static_cast<std::size_t>(m_nodes[node].shape.c);
}

std::size_t StreamPlan::strip_bytes(const std::vector<int>& capacity_rows, Strip strip) const
{
    const Columns c = columns(strip);
    std::size_t bytes = 0;
    for (std::size_t b = 0; b < m_nodes.size(); ++b)
        if (m_nodes[b].buffer == static_cast<int>(b))
            bytes += static_cast<std::size_t>(capacity_rows[b]) *
                     region_row_floats(c, static_cast<int>(b)) * sizeof(float);
    return bytes;
}

std::vector<int> StreamPlan::first_rows(int output_row) const
{
    // Backwards from the output: each node's first row is the first its consumers read, rounded
    // down to its granule (then its producers must start earlier still).
    const std::vector<Node>& graph_nodes = m_graph->nodes();
    std::vector<int> first(m_nodes.size());
    for (std::size_t i = 0; i < m_nodes.size(); ++i)
        first[i] = m_nodes[i].shape.h;
    first[m_graph->output_node()] = output_row;
    for (int i = static_cast<int>(m_nodes.size()) - 1; i >= 0; --i)
    {
        const StreamNode& s = m_nodes[i];
        if (first[i] < s.shape.h)
            first[i] = first[i] / s.granule * s.granule;
        if (i == m_graph->input_node())
            continue;
        for (int p : graph_nodes[i].inputs)
            first[p] =
                std::min(first[p], input_begin(s.map, first[i], m_nodes[p].shape.h, s.shape.h));
    }
    return first;
}

StreamPlan::Schedule StreamPlan::schedule(int first_row, int last_row, Strip strip) const
{
    const int out = m_graph->output_node();
    const int out_h = m_nodes[out].shape.h;
    if (first_row < 0 || first_row >= last_row || last_row > out_h)
        throw std::invalid_argument("stream: output rows [" + std::to_string(first_row) + ", " +
                                    std::to_string(last_row) + ") outside [0, " +
                                    std::to_string(out_h) + ")");
    Schedule plan;
    plan.begin = first_rows(first_row);
    const auto at_least_begin = [&](std::vector<int> rows)
    {
        for (std::size_t i = 0; i < rows.size(); ++i)
            rows[i] = std::max(rows[i], plan.begin[i]);
        return rows;
    };
    // Warm-up: before the first output band the encoder must run its whole lead ahead (the
    // receptive reach, plus the tile rounding; a segment's re-warm adds the rows above it).
    // Computed in one step, that is a whole-image-like pass over hundreds of rows whose working
    // sets leave the caches; so it is fed in bands of input rows. Then one output band a step.
    const int in = m_graph->input_node();
    const std::vector<int> first_band = target_rows(std::min(last_row, first_row + m_band_rows));
    for (int rows = plan.begin[in] + m_band_rows; rows < first_band[in]; rows += m_band_rows)
        plan.ends.push_back(at_least_begin(warmup_rows(rows, first_band)));
    for (int end = first_row; end < last_row;)
    {
        end = std::min(last_row, end + m_band_rows);
        plan.ends.push_back(at_least_begin(target_rows(end)));
    }

    // Simulate the steps once: a buffer holds, at step t, rows from where its consumers stood
    // after step t-1 up to what step t computes. A strided consumer may skip rows not yet
    // computed: the buffer then restarts at its end (StreamExecutor compacts to min(kept, end)).
    std::vector<int> live(m_nodes.size(), 0);
    std::vector<int> kept = plan.begin;
    std::vector<int> before = plan.begin;
    for (const std::vector<int>& done : plan.ends)
    {
        for (std::size_t b = 0; b < m_nodes.size(); ++b)
            if (m_nodes[b].buffer == static_cast<int>(b))
                live[b] = std::max(live[b], done[b] - std::min(kept[b], before[b]));
        kept = rows_kept_from(done);
        before = done;
    }
    plan.capacity_rows.assign(m_nodes.size(), 0);
    for (std::size_t b = 0; b < m_nodes.size(); ++b)
    {
        const StreamNode& s = m_nodes[b];
        if (s.buffer != static_cast<int>(b))
            continue;
        // Slack of a quarter of the live rows: the executor compacts a buffer only when it is
        // full, so it moves each row about four times. Measured against half (each row moved
        // twice): the same wall time (medians 7.24 / 7.25 s of 7 runs, 4096 px membrane, 2
        // threads) for 13 % less peak RSS (719 vs 827 MiB; bench/README.md).
        plan.capacity_rows[b] = std::max(1, live[b] + live[b] / 4);
    }
    if (strip.end > strip.first)
        plan.buffer_bytes = strip_bytes(plan.capacity_rows, strip);
    else
        for (const Strip& s : strips())
            plan.buffer_bytes = std::max(plan.buffer_bytes, strip_bytes(plan.capacity_rows, s));
    return plan;
}

std::vector<int> StreamPlan::warmup_rows(int input_rows, const std::vector<int>& cap) const
{
    // Each layer computes what its inputs' first `input_rows` rows allow (rounded down to its
    // granule), at most `cap`.
    const std::vector<Node>& graph_nodes = m_graph->nodes();
    std::vector<int> rows(m_nodes.size(), 0);
    for (std::size_t i = 0; i < m_nodes.size(); ++i)
    {
        const StreamNode& s = m_nodes[i];
        int end = s.shape.h;
        if (static_cast<int>(i) == m_graph->input_node())
            end = input_rows;
        else
            for (int p : graph_nodes[i].inputs)
                end = std::min(end, output_end(s.map, rows[p], m_nodes[p].shape.h, s.shape.h));
        if (end < s.shape.h)
            end = end / s.granule * s.granule;
        rows[i] = std::clamp(end, 0, cap[i]);
    }
    return rows;
}

std::vector<int> StreamPlan::target_rows(int output_rows) const
{
    const std::vector<Node>& graph_nodes = m_graph->nodes();
    const int out = m_graph->output_node();
    std::vector<int> need(m_nodes.size(), 0);
    need[out] = output_rows;
    for (int i = static_cast<int>(m_nodes.size()) - 1; i >= 0; --i)
    {
        const StreamNode& s = m_nodes[i];
        need[i] = std::min(s.shape.h, round_up(need[i], s.granule));
        if (i == m_graph->input_node())
            continue;
        for (int p : graph_nodes[i].inputs)
            need[p] = std::max(need[p], input_end(s.map, need[i], m_nodes[p].shape.h));
    }
    return need;
}

std::vector<int> StreamPlan::rows_kept_from(const std::vector<int>& done) const
{
    const std::vector<Node>& graph_nodes = m_graph->nodes();
    std::vector<int> kept(m_nodes.size(), 0);
    for (std::size_t b = 0; b < m_nodes.size(); ++b)
        kept[b] = m_nodes[b].shape.h;
    for (std::size_t c = 0; c < m_nodes.size(); ++c)
    {
        const StreamNode& s = m_nodes[c];
        if (static_cast<int>(c) == m_graph->input_node() || s.buffer != static_cast<int>(c))
            continue; // the input and identity layers read nothing themselves
        for (int p : graph_nodes[c].inputs)
        {
            const int b = m_nodes[p].buffer;
            kept[b] = std::min(kept[b], input_begin(s.map, done[c], m_nodes[p].shape.h, s.shape.h));
        }
    }
    const int out = m_graph->output_node();
    const int b = m_nodes[out].buffer;
    kept[b] = std::min(kept[b], done[out]);
    return kept;
}

std::string StreamPlan::summary() const
{
    char mib[32];
    std::snprintf(mib, sizeof mib, "%.1f", static_cast<double>(m_buffer_bytes) / (1024.0 * 1024.0));
    const std::size_t n = strips().size();
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, "%.3f", m_strips_flop_ratio);
    const std::string strips = n == 1 ? std::string("full width, row buffers ")
                                      : std::to_string(n) + " strips of " +
                                            std::to_string(m_strip_width) + " px (" + ratio +
                                            " x the FLOPs of one pass), row buffers per strip ";
    return "stream: band " + std::to_string(m_band_rows) + " rows, " + std::to_string(m_steps) +
           " steps, " + strips + mib + " MiB, " +
           (m_bit_identical ? "bands on Winograd tile rows (bit-identical)"
                            : "fewest rows (within float rounding)");
}

namespace
{

/// The input span that output [begin, end) of a layer mapped by `m` reads along one axis (input
/// length `in_len`, output length `out_len`), and its leading padding relative to an input that
/// starts at `start` (negative: that many input rows / columns are skipped).
StreamPlan::InputRows input_span(const RowMap& m, int begin, int end, int in_len, int out_len,
                                 std::optional<int> start)
{
    StreamPlan::InputRows span;
    span.begin = input_begin(m, begin, in_len, out_len);
    span.end = input_end(m, end, in_len);
    const int first = start.value_or(span.begin);
    if (m.kind == RowMap::Kind::window)
        span.pad_before = first - (begin * m.stride - m.pad_before);
    else if (m.kind == RowMap::Kind::transpose)
        span.pad_before = begin + m.pad_before - first * m.stride;
    return span;
}

} // namespace

StreamPlan::InputRows StreamPlan::input_rows(int node, int slot, int begin, int end) const
{
    const int p = m_graph->nodes()[node].inputs[slot];
    return input_span(m_nodes[node].map, begin, end, m_nodes[p].shape.h, m_nodes[node].shape.h,
                      std::nullopt);
}

StreamPlan::InputRows StreamPlan::input_columns(int node, int slot, int begin, int end,
                                                int region_begin) const
{
    const int p = m_graph->nodes()[node].inputs[slot];
    return input_span(m_nodes[node].col_map, begin, end, m_nodes[p].shape.w, m_nodes[node].shape.w,
                      region_begin);
}

} // namespace atrous::infer
