// SPDX-License-Identifier: Apache-2.0
// Purpose: the streaming forward pass: runs a StreamPlan, reading input rows and handing out
// output rows as they leave the network, strip by strip; every layer row of a strip is computed
// once, by the same kernels as Model::forward called on bands of rows of the strip's regions.
#pragma once

#include "stages/infer/engine/model.hpp"
#include "stages/infer/engine/stream_plan.hpp"

#include <cstddef>
#include <functional>

namespace atrous::infer
{

/// What one streamed pass did.
struct StreamStats
{
    int steps = 0;
    double flops_computed = 0; // summed over the bands each layer computed
    double flops_whole = 0;    // one whole-image pass (Model::flops)
    std::size_t buffer_bytes = 0;
    /// flops_computed / flops_whole (1 when the model has no counted FLOPs).
    double flop_ratio() const { return flops_whole > 0 ? flops_computed / flops_whole : 1.0; }
};

class StreamExecutor
{
public:
    /// Plans (StreamPlan's errors); the model must outlive the executor.
    StreamExecutor(const Model& model, Shape input, int band_rows,
                   KernelKind kernels = KernelKind::fast, bool bit_identical = true,
                   int strip_width = 0);

    const StreamPlan& plan() const { return m_plan; }

    /// Fills `rows` (1 x count x width x channels, contiguous) with input rows from `first_row`,
    /// columns from `first_col` (a strip's input region).
    using RowReader = std::function<void(int first_row, int first_col, Tensor& rows)>;
    /// Receives output rows from `first_row` on, top to bottom, each row once per strip: the
    /// strip's columns, from `first_col`.
    using RowWriter = std::function<void(int first_row, int first_col, const Tensor& rows)>;

    /// One streamed pass, strip after strip; const and thread-safe (its row buffers are its own).
    StreamStats run(const RowReader& read, const RowWriter& write) const;
    /// A segment: output rows [first_row, last_row) only, the same bytes as those rows of a
    /// whole pass (StreamPlan::schedule: a segment below row 0 first re-warms its layers from the
    /// input rows above it, counted in the stats' FLOPs). `read` is asked for input rows from
    /// the first the segment needs; `write` gets rows in [first_row, last_row) only. Segments
    /// are independent: resume and sharding run them in any order, concurrently too.
    StreamStats run(int first_row, int last_row, const RowReader& read,
                    const RowWriter& write) const;
    /// A segment of one strip: output rows [first_row, last_row) of the strip's columns only
    /// (the same bytes as in a whole pass; `read` is asked for the strip's input region only).
    StreamStats run(int first_row, int last_row, StreamPlan::Strip strip, const RowReader& read,
                    const RowWriter& write) const;
    /// The whole image in memory (tests, benchmarks): the result Model::forward would return.
    Tensor run(const Tensor& input, StreamStats* stats = nullptr) const;

private:
    StreamPlan m_plan;
    KernelKind m_kernels;
};

} // namespace atrous::infer
