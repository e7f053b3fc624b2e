// SPDX-License-Identifier: Apache-2.0
// Purpose: the load-time check every model passes before its graph is built, whatever loaded it:
// no weight may be NaN, infinite, or so large that a forward pass overflows float32.
#pragma once

#include "stages/infer/import/model_spec.hpp"

#include <string>

namespace atrous::infer
{

/// Largest weight magnitude accepted. Trained networks stay orders of magnitude below it (a
/// BatchNormalization's moving variance over raw 16-bit data is ~1e9), and a weight of this size
/// times an activation of this size, summed over a million terms (1e15 * 1e15 * 1e6 = 1e36),
/// still fits float32 (3.4e38). A larger value (3e38 overflows at once) is refused at load; a
/// network that still overflows on its input is stopped at the first tile whose output is not
/// finite (InferStage).
constexpr double max_weight_magnitude = 1e15;

/// Throws ModelError(where, "layer <name>: <weight> holds NaN at index (0,1,0,5)") for the first
/// weight of `spec` (in layer and weight order) that is NaN, +-Inf, or beyond
/// max_weight_magnitude. `where` is the model's place in messages ("model <file>").
void check_weights(const ModelSpec& spec, const std::string& where);

} // namespace atrous::infer
