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

/// Largest |a - b| over the pixels of `crop` (a forward of `whole`'s input cut at (off, off))
/// that lie at least `margin` from the crop's edges, against the same pixels of `whole`.
float crop_vs_whole(const Tensor& crop, const Tensor& whole, int off, int margin)
{
    float d = 0.0f;
    for (int y = margin; y < crop.shape().h - margin; ++y)
        for (int x = margin; x < crop.shape().w - margin; ++x)
            d = std::max(d, std::fabs(crop.at(0, y, x, 0) - whole.at(0, y + off, x + off, 0)));
    return d;
}

TEST(ModelBf16, WinogradOnlyWhereCropsKeepTheTileGridSoCropsEqualTheWholeImage)
{
    // Total stride 4: exact tiling offsets crops by multiples of 4 input pixels, 2 at level 1
    // (F(2x2, 3x3) tiles stay aligned) and 1 at the bottom (they would not: bf16 GEMM there).
    UnetArchitecture unet;
    unet.filters = 16;
    unet.depth = 3;
    unet.dilation = {1, 1, 1};
    BuildOptions build;
    build.initialize_missing_weights = true;
    build.seed = 3;
    build.precision = Precision::bf16;
    const Model model(builtin_model_spec(unet), build);
    ASSERT_EQ(model.facts().total_stride, 4);
    const int halo = model.facts().halo_px;
    const int size = 2 * halo + 24; // a multiple of 4
    const Tensor whole_in = test::random_tensor(Shape{1, size, size, 1}, 4);
    const auto rows = model.describe(whole_in.shape());
    int wino = 0, bottom_wino = 0;
    for (const LayerInfo& r : rows)
        if (r.class_name.find("bf16 wino") != std::string::npos)
        {
            ++wino;
            bottom_wino += r.output.h == size / 4;
        }
    EXPECT_GE(wino, 4);
    EXPECT_EQ(bottom_wino, 0) << "the bottom level's crops are offset by 1 pixel: no Winograd";
    const Tensor whole = model.forward(whole_in);

    // A crop as exact tiling cuts it (offset 4) equals the whole image away from its edges; one
    // offset by 2 (never cut) does not, since Winograd tiles then start elsewhere.
    const int crop_size = size - 4;
    for (int off : {4, 2})
    {
        Tensor crop_in(Shape{1, crop_size, crop_size, 1});
        for (int y = 0; y < crop_size; ++y)
            for (int x = 0; x < crop_size; ++x)
                crop_in.at(0, y, x, 0) = whole_in.at(0, y + off, x + off, 0);
        const float d = crop_vs_whole(model.forward(crop_in), whole, off, halo);
        if (off == 4)
            EXPECT_LE(d, 1e-6f);
        else
            EXPECT_GT(d, 1e-5f);
    }
}

} // namespace
} // namespace atrous::infer
