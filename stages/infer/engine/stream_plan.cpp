// SPDX-License-Identifier: Apache-2.0
// Purpose: stream planning: per node the rows a band reads (RowMap), the rows each step computes
// (derived backwards from the output's band), and the row buffers' sizes (simulated once).

#include "stream_plan.hpp"

#include "graph.hpp"

#include <algorithm>
#include <cstdio>

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
        const RowMap map = node.layer->row_map(unknown);
        if (map.kind == RowMap::Kind::none)
            return node.layer->class_name() + " " + node.layer->name() + " (" + map.reason + ")";
    }
    return "";
}

StreamPlan::StreamPlan(const Model& model, Shape input, int band_rows, bool bit_identical)
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
        s.map = is_input ? RowMap::rows() : node.layer->row_map(in_shapes);
        s.buffer = !is_input && node.layer->is_identity() ? m_nodes[node.inputs[0]].buffer
                                                          : static_cast<int>(i);
        s.granule = s.map.kind == RowMap::Kind::upsample ? s.map.factor
                    : bit_identical                      ? s.map.granule
                                                         : 1;
        s.shape = shapes[i];
        s.row_floats = static_cast<std::size_t>(s.shape.w) * s.shape.c;
        s.flops = is_input ? 0.0 : node.layer->flops(in_shapes, s.shape);
        m_whole_flops += s.flops;
    }

    const std::vector<int> first =
        target_rows(std::min(m_band_rows, m_nodes[m_graph->output_node()].shape.h));
    m_warmup_steps = std::max(0, (first[m_graph->input_node()] - 1) / m_band_rows);

    // Simulate the steps once: a buffer holds, at step t, rows from where its consumers stood
    // after step t-1 up to what step t computes.
    std::vector<int> live(m_nodes.size(), 0);
    std::vector<int> kept(m_nodes.size(), 0);
    const int out = m_graph->output_node();
    std::vector<int> done(m_nodes.size(), 0);
    while (done[out] < m_nodes[out].shape.h)
    {
        ++m_steps;
        const std::vector<int> before = done;
        done = rows_done(m_steps);
        // A strided consumer may skip rows not yet computed: the buffer then restarts at its
        // end (StreamExecutor compacts to min(kept, end)).
        for (std::size_t b = 0; b < m_nodes.size(); ++b)
            if (m_nodes[b].buffer == static_cast<int>(b))
                live[b] = std::max(live[b], done[b] - std::min(kept[b], before[b]));
        kept = rows_kept_from(done);
    }
    for (std::size_t b = 0; b < m_nodes.size(); ++b)
    {
        StreamNode& s = m_nodes[b];
        if (s.buffer != static_cast<int>(b))
            continue;
        // Slack of half the live rows: the executor compacts a buffer only when it is full, so
        // it moves each row at most about twice.
        s.capacity_rows = std::max(1, live[b] + live[b] / 2);
        m_buffer_bytes += static_cast<std::size_t>(s.capacity_rows) * s.row_floats * sizeof(float);
    }
}

std::vector<int> StreamPlan::rows_done(int step) const
{
    if (step <= m_warmup_steps)
        return warmup_rows(step * m_band_rows, target_rows(m_band_rows));
    return target_rows(static_cast<int>(
        std::min<long long>(m_nodes[m_graph->output_node()].shape.h,
                            static_cast<long long>(step - m_warmup_steps) * m_band_rows)));
}

std::vector<int> StreamPlan::warmup_rows(int input_rows, const std::vector<int>& cap) const
{
    // Before the first output band the encoder must run its whole lead ahead (the receptive
    // reach, plus the tile rounding). Computed in one step, that lead is a whole-image-like
    // pass over hundreds of rows whose working sets leave the caches; so it is fed in bands of
    // input rows, each layer computing what its inputs allow (rounded down to its granule).
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
    return "stream: band " + std::to_string(m_band_rows) + " rows, " + std::to_string(m_steps) +
           " steps, row buffers " + mib + " MiB, " +
           (m_bit_identical ? "bands on Winograd tile rows (bit-identical)"
                            : "fewest rows (within float rounding)");
}

StreamPlan::InputRows StreamPlan::input_rows(int node, int slot, int begin, int end) const
{
    const StreamNode& s = m_nodes[node];
    const int p = m_graph->nodes()[node].inputs[slot];
    const int in_h = m_nodes[p].shape.h;
    InputRows rows;
    rows.begin = input_begin(s.map, begin, in_h, s.shape.h);
    rows.end = input_end(s.map, end, in_h);
    if (s.map.kind == RowMap::Kind::window)
        rows.pad_top = rows.begin - (begin * s.map.stride - s.map.pad_before);
    else if (s.map.kind == RowMap::Kind::transpose)
        rows.pad_top = begin + s.map.pad_before - rows.begin * s.map.stride;
    return rows;
}

} // namespace atrous::infer
