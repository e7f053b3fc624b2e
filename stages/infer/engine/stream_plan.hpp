// SPDX-License-Identifier: Apache-2.0
// Purpose: the plan of a streaming forward pass (engine/stream_executor.hpp): the image goes
// through the network top to bottom in bands of rows, each layer keeping only the rows its
// consumers still need, so every row of every layer is computed once (no halo recomputation).
// The image may be cut into vertical strips streamed one after the other: each layer then
// computes only the columns its consumers in the strip need (a region that shrinks layer by
// layer), so row buffers are bounded by the strip's width, not the image's.
// Derived from the layer graph: each layer's RowMaps say which input rows (columns) its output
// rows (columns) read.
#pragma once

#include "stages/infer/engine/model.hpp"
#include "stages/infer/engine/row_map.hpp"
#include "stages/infer/engine/tensor.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace atrous::infer
{

class Graph;

/// One node of the graph as the stream sees it.
struct StreamNode
{
    RowMap map;     // how its rows read its inputs' rows (the input node: rowwise, unused)
    RowMap col_map; // how its columns read its inputs' columns
    int buffer = 0; // the node whose row buffer holds its rows (an identity layer: its input's)
    int granule =
        1; // its bands start at multiples of this row (RowMap::granule; upsampling: its factor)
    int col_granule = 1;   // the same for the columns of its regions
    Shape shape;           // full-size output
    int capacity_rows = 0; // rows its buffer must hold at once (buffer nodes only)
    double flops = 0;      // one whole-image pass of this layer
};

/// A vertical strip of a stream: output columns [first, end) (empty: none chosen).
struct StreamStrip
{
    int first = 0;
    int end = 0;
};

class StreamPlan
{
public:
    /// Plans a stream of `input` (n == 1) whose output advances `band_rows` rows per step.
    /// `bit_identical`: bands start on the Winograd kernels' tile rows (RowMap::granule), so the
    /// result is the whole-image pass bit for bit, for every band height; the encoder then runs
    /// further ahead of the decoder (rounding up at every layer), which costs buffer rows. Off:
    /// the fewest rows, results within float rounding (~1e-6) of the whole-image pass.
    /// `strip_width`: output columns per vertical strip (the last strip takes the rest); 0 or at
    /// least the output's width: one strip, the whole width. Strips change no value: a region's
    /// columns start on the Winograd kernels' tile columns too (bit-identical plan).
    /// Throws ModelError "not streamable: <layer> (<reason>)" for a graph it cannot stream, and as
    /// Model::output_shape for a size the model does not accept.
    StreamPlan(const Model& model, Shape input, int band_rows, bool bit_identical = true,
               int strip_width = 0);

    /// Empty when every layer of `model` can stream, else "<layer> (<reason>)" of the first one
    /// that cannot.
    static std::string blocker(const Model& model);

    const Model& model() const { return *m_model; }
    const std::vector<StreamNode>& nodes() const { return m_nodes; }
    int band_rows() const { return m_band_rows; }
    /// Output columns per strip (the output's width: one strip).
    int strip_width() const { return m_strip_width; }
    /// The strips' output columns, left to right.
    using Strip = StreamStrip;
    std::vector<Strip> strips() const;
    /// The columns each node computes for output columns [strip.first, strip.end): node i's
    /// region is [begin[i], end[i]) (every column its consumers read, widened to its column
    /// granule); an identity node's is its buffer's.
    struct Columns
    {
        std::vector<int> begin;
        std::vector<int> end;
        int width(int node) const { return end[node] - begin[node]; }
    };
    Columns columns(Strip strip) const;
    /// Floats per row of `node`'s region in `columns` (its width x channels; 0 when empty).
    std::size_t region_row_floats(const Columns& columns, int node) const;
    /// Steps of a whole pass until the last output row (each computes one band of every layer
    /// that advances).
    int steps() const { return m_steps; }

    /// The rows each node computes in a pass over output rows [first_row, last_row) (a
    /// segment; the whole pass: [0, output height)), step by step. Node i computes rows
    /// [begin[i], ends.back()[i]); step s (0-based) computes rows [ends[s-1][i], ends[s][i])
    /// (from begin[i] at step 0). A segment that starts below row 0 re-warms: each layer starts
    /// at the first row its consumers read (rounded down to its granule, so its bands keep the
    /// whole pass's kernel tiles: bit-identical in the bit-identical plan), fed in bands of
    /// input rows as the whole pass's warm-up is.
    struct Schedule
    {
        std::vector<int> begin;
        std::vector<std::vector<int>> ends;
        /// Per buffer node: rows its buffer holds at most at once in this pass (see
        /// StreamNode::capacity_rows, which is this for the whole pass).
        std::vector<int> capacity_rows;
        std::size_t buffer_bytes = 0;
    };
    /// Throws std::invalid_argument unless 0 <= first_row < last_row <= output height. Its
    /// buffer bytes are those of `strip`'s regions (an empty strip: the widest strip's).
    Schedule schedule(int first_row, int last_row, Strip strip = {}) const;
    /// For each buffer node, the first row its consumers (and the output) still read once every
    /// node has computed rows up to done[node]; rows above it may be dropped.
    std::vector<int> rows_kept_from(const std::vector<int>& done) const;
    /// Bytes of all row buffers (capacity_rows each) of the widest strip, as the executor
    /// allocates them.
    std::size_t buffer_bytes() const { return m_buffer_bytes; }
    /// FLOPs of one whole-image pass (Model::flops of the input).
    double whole_image_flops() const { return m_whole_flops; }
    /// FLOPs of a whole streamed pass over every strip / whole_image_flops(): 1 for one strip;
    /// more where strips compute the columns their regions share.
    double strips_flop_ratio() const { return m_strips_flop_ratio; }
    bool bit_identical() const { return m_bit_identical; }
    /// One line for a plan summary: "stream: band 16 rows, 64 steps, 4 strips of 1024 px, row
    /// buffers 277.8 MiB per strip, bands on Winograd tile rows (bit-identical)".
    std::string summary() const;
    /// The first input row and the end of the input rows that output rows [begin, end) of `node`
    /// read from its input slot `slot`, and the window's leading padding for them (pad_top).
    struct InputRows
    {
        int begin = 0;
        int end = 0;
        int pad_before = 0;
    };
    InputRows input_rows(int node, int slot, int begin, int end) const;
    /// The same along x: the first input column and the end of the input columns that output
    /// columns [begin, end) of `node` read from slot `slot`, and the leading padding relative to
    /// an input region that starts at column `region_begin` (negative: columns skipped).
    InputRows input_columns(int node, int slot, int begin, int end, int region_begin) const;

private:
    const Model* m_model;
    const Graph* m_graph;
    std::vector<StreamNode> m_nodes;
    int m_band_rows = 1;
    int m_strip_width = 0;
    bool m_bit_identical = true;
    int m_steps = 0;
    std::vector<int> target_rows(int output_rows) const;
    std::vector<int> warmup_rows(int input_rows, const std::vector<int>& cap) const;
    std::vector<int> first_rows(int output_row) const;
    std::size_t strip_bytes(const std::vector<int>& capacity_rows, Strip strip) const;
    std::size_t m_buffer_bytes = 0;
    double m_whole_flops = 0;
    double m_strips_flop_ratio = 1;
};

} // namespace atrous::infer
