// SPDX-License-Identifier: Apache-2.0
// Purpose: the load-time weight check: NaN, Inf and overflowing weights refused, named by layer,
// weight and index, whatever built the spec; ordinary weights accepted.
#include "stages/error.hpp"
#include "stages/infer/engine/model.hpp"
#include "stages/infer/import/weight_check.hpp"
#include "tests/support/spec_builder.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace atrous::infer
{
namespace
{

/// input -> conv_a (3x3, 2 -> 8) with the given kernel value at flat index `at`.
ModelSpec spec_with(float bad, std::size_t at)
{
    test::SpecBuilder b("tiny");
    b.input("input_1", {nullptr, nullptr, nullptr, 2});
    b.add("conv_a", "Conv2D",
          {{"filters", 8}, {"kernel_size", {3, 3}}, {"padding", "same"}, {"activation", "relu"}},
          {"input_1"},
          {test::weight("kernel", {3, 3, 2, 8},
                        [&](std::size_t i) { return i == at ? bad : 0.01f * (i % 7); }),
           test::weight("bias", {8}, [](std::size_t) { return 0.0f; })});
    b.spec().source = "m.h5";
    return b.spec();
}

std::string message(const ModelSpec& spec)
{
    try
    {
        check_weights(spec, "model m.h5");
    }
    catch (const ModelError& e)
    {
        return e.what();
    }
    return "";
}

TEST(WeightCheck, NamesLayerWeightAndIndex)
{
    // Flat index 13 of (3,3,2,8): (0,0,1,5).
    const float nan = std::numeric_limits<float>::quiet_NaN();
    EXPECT_EQ(message(spec_with(nan, 13)),
              "model m.h5: layer conv_a: kernel holds NaN at index (0,0,1,5)");
    const float inf = std::numeric_limits<float>::infinity();
    EXPECT_EQ(message(spec_with(-inf, 143)),
              "model m.h5: layer conv_a: kernel holds -Inf at index (2,2,1,7)");
    const std::string big = message(spec_with(3e38f, 0));
    EXPECT_NE(big.find("layer conv_a: kernel holds 3e+38 (beyond the accepted magnitude 1e+15"),
              std::string::npos)
        << big;
}

TEST(WeightCheck, AcceptsLargeButBoundedWeights)
{
    EXPECT_EQ(message(spec_with(static_cast<float>(max_weight_magnitude) * 0.99f, 3)), "");
    EXPECT_EQ(message(spec_with(-1e9f, 3)), "");
}

TEST(WeightCheck, EveryModelPassesIt)
{
    // The graph runs the check itself: a loader that forgets it cannot let NaN through.
    try
    {
        const Model model(spec_with(std::numeric_limits<float>::quiet_NaN(), 0));
        FAIL() << "a NaN weight was accepted";
    }
    catch (const ModelError& e)
    {
        EXPECT_NE(std::string(e.what()).find("model m.h5: layer conv_a: kernel holds NaN"),
                  std::string::npos)
            << e.what();
        EXPECT_EQ(e.exit_code(), 4);
    }
}

} // namespace
} // namespace atrous::infer
