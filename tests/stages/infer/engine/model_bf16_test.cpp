// SPDX-License-Identifier: Apache-2.0
// Purpose: BuildOptions::precision bf16 through a whole graph: the fast kernels agree with the
// bf16 reference kernels (on every machine: without bf16 instructions both run the portable
// oracle), and both stay near the fp32 result without equalling it.

#include "stages/infer/engine/model.hpp"
#include "stages/infer/import/architecture.hpp"
#include "tests/support/random_tensor.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace atrous::infer
{
namespace
{

float max_abs_diff(const Tensor& a, const Tensor& b)
{
    float d = 0.0f;
    for (std::size_t i = 0; i < a.size(); ++i)
        d = std::max(d, std::fabs(a.data()[i] - b.data()[i]));
    return d;
}

TEST(ModelBf16, FastMatchesBf16ReferenceAndStaysNearFp32)
{
    UnetArchitecture unet;
    unet.filters = 8;
    unet.depth = 3;
    unet.dilation = {1, 1, 2};
    BuildOptions build;
    build.initialize_missing_weights = true;
    build.seed = 5;
    const Model fp32(builtin_model_spec(unet), build);
    build.precision = Precision::bf16;
    const Model bf16(builtin_model_spec(unet), build);
    const Tensor input = test::random_tensor(Shape{2, 20, 28, 1}, 9);

    ForwardOptions reference;
    reference.kernels = KernelKind::reference;
    const Tensor want32 = fp32.forward(input, reference);
    const Tensor want16 = bf16.forward(input, reference);
    const Tensor got16 = bf16.forward(input);
    ASSERT_EQ(got16.shape(), want16.shape());
    // Same rounding, different summation order only (sigmoid output in [0, 1]).
    EXPECT_LE(max_abs_diff(got16, want16), 2e-5f);
    const float vs_fp32 = max_abs_diff(want16, want32);
    EXPECT_GT(vs_fp32, 0.0f); // it does round
    EXPECT_LE(vs_fp32, 2e-2f);
    // Layers that run bf16 say so (`atrous info`).
    const auto rows = bf16.describe(input.shape());
    EXPECT_TRUE(std::any_of(rows.begin(), rows.end(),
                            [](const LayerInfo& r)
                            { return r.class_name.find("bf16") != std::string::npos; }));
}

} // namespace
} // namespace atrous::infer
