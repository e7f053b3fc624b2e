// SPDX-License-Identifier: Apache-2.0
// Purpose: find NaN/Inf in a tensor, cheaply: a branch-free pass the compiler vectorizes over
// blocks of floats, the exact position looked up only in a block that holds one.
#pragma once

#include "stages/infer/engine/tensor.hpp"

#include <cstddef>
#include <optional>

namespace atrous::infer
{

/// Where a non-finite value lies: its NHWC coordinates and the value.
struct NonFinite
{
    int n = 0;
    int y = 0;
    int x = 0;
    int c = 0;
    float value = 0;
};

/// Index of the first NaN or +-Inf of data[0, count), if any.
std::optional<std::size_t> first_non_finite(const float* data, std::size_t count);

/// The first NaN or +-Inf of `t` in NHWC order (strided views included), if any.
std::optional<NonFinite> first_non_finite(const Tensor& t);

/// "NaN", "+Inf" or "-Inf".
const char* non_finite_name(float value);

} // namespace atrous::infer
