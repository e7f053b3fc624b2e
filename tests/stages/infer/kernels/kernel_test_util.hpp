// SPDX-License-Identifier: Apache-2.0
// Purpose: shared helpers for the kernel tests: seeded random buffers, NaN-prefilled outputs
// (elements a kernel forgets stay NaN), a comparison that prints the first failing index, and
// the fixture of tests over a kernel's variants.
#pragma once

#include "stages/infer/kernels/cpu_features.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace atrous::infer::kernels::test
{

inline std::vector<float> random_values(std::size_t count, std::mt19937& rng)
{
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> v(count);
    for (float& x : v)
        x = dist(rng);
    return v;
}

inline std::vector<float> nan_filled(std::size_t count)
{
    return std::vector<float>(count, std::numeric_limits<float>::quiet_NaN());
}

/// Fails with the case, index and values of the first element differing by more than `tol`
/// (a NaN left in `got` fails).
inline ::testing::AssertionResult all_near(const std::vector<float>& want,
                                           const std::vector<float>& got, float tol,
                                           const std::string& what)
{
    if (want.size() != got.size())
        return ::testing::AssertionFailure()
               << what << ": size " << got.size() << " vs " << want.size();
    for (std::size_t i = 0; i < want.size(); ++i)
        if (!(std::fabs(want[i] - got[i]) <= tol))
            return ::testing::AssertionFailure()
                   << what << ": index " << i << " got " << got[i] << " want " << want[i];
    return ::testing::AssertionSuccess();
}

/// A test over the variants of a kernel (kernels.def: name, isa): a variant whose instruction set
/// this CPU lacks is skipped with the reason.
template <class Variant> class VariantTest : public ::testing::TestWithParam<Variant>
{
protected:
    void SetUp() override
    {
        const Variant& v = this->GetParam();
        if (!cpu_supports(v.isa))
            GTEST_SKIP() << v.name << ": CPU lacks " << isa_name(v.isa);
    }
};

} // namespace atrous::infer::kernels::test
