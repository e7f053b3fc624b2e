// SPDX-License-Identifier: Apache-2.0
// Purpose: a tensor of `s` filled with values uniform in [-1, 1) from a seeded generator (tests).
#pragma once

#include "stages/infer/engine/tensor.hpp"

#include <random>

namespace atrous::test
{

inline infer::Tensor random_tensor(infer::Shape s, unsigned seed)
{
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    infer::Tensor t(s);
    for (std::size_t i = 0; i < t.size(); ++i)
        t.data()[i] = dist(rng);
    return t;
}

} // namespace atrous::test
