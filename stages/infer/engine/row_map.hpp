// SPDX-License-Identifier: Apache-2.0
// Purpose: how a layer's output rows depend on its input rows, for the streaming executor
// (engine/stream_plan.hpp): which input rows a band of output rows reads.
#pragma once

#include <string>

namespace atrous::infer
{

/// The row dependency of one layer along y, for the full-size input it was asked about.
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
    static RowMap blocked(std::string why)
    {
        RowMap m;
        m.reason = std::move(why);
        return m;
    }
};

} // namespace atrous::infer
