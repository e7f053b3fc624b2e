// SPDX-License-Identifier: Apache-2.0
// Purpose: how a layer's output rows (or columns) depend on its input rows (columns), for the
// streaming executor (engine/stream_plan.hpp): which input rows a band of output rows reads, and
// which input columns a strip's region of output columns reads.
#pragma once

#include "stages/infer/engine/window.hpp"

#include <string>

namespace atrous::infer
{

/// An image axis: y (rows) or x (columns).
enum class Axis
{
    y,
    x
};

/// The dependency of one layer along one axis (named for rows; columns map the same way), for the
/// full-size input it was asked about.
struct RowMap
{
    enum class Kind
    {
        none,      // cannot stream (`reason` says why)
        rowwise,   // output row r reads row r of every input (activations, Add, Concatenate, ...)
        window,    // output row r reads rows r*stride - pad_before + [0, k_eff) (conv, pooling)
        transpose, // input row i adds to output rows i*stride - pad_before + [0, k_eff)
        upsample   // output row r reads input row r / factor
    };
    Kind kind = Kind::none;
    int k_eff = 1;
    int stride = 1;
    int pad_before = 0; // of the full-size input (Keras 'same': an even kernel pads 0 before)
    int factor = 1;
    /// Bands of this layer's output start at multiples of this row: a Winograd kernel's output
    /// tile height, so that its tiles fall where they fall in a whole-image pass and every value
    /// is summed in the same order (bit-identical results).
    int granule = 1;
    std::string reason;

    static RowMap of(Kind kind)
    {
        RowMap m;
        m.kind = kind;
        return m;
    }
    static RowMap rows() { return of(Kind::rowwise); }
    /// A sliding window (convolution, pooling) along an axis of full-size length `in`.
    static RowMap window(const Window1d& w, int in)
    {
        RowMap m = of(Kind::window);
        m.k_eff = w.k_eff();
        m.stride = w.stride;
        m.pad_before = w.pad_before(in);
        return m;
    }
    static RowMap blocked(std::string why)
    {
        RowMap m;
        m.reason = std::move(why);
        return m;
    }
};

} // namespace atrous::infer
