// SPDX-License-Identifier: Apache-2.0
// Purpose: the bf16 Winograd oracle conv2d_bf16_wino_ref against fp32 and the direct bf16 oracle,
// and every conv2d_bf16_wino entry of kernels.def against it (skipped with the reason on a CPU
// without the variant's instructions, e.g. AVX2-only CI).

#include "kernel_test_util.hpp"
#include "stages/infer/kernels/dispatch.hpp"
#include "stages/infer/kernels/kernels.hpp"
#include "tests/support/conv_shape.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace atrous::infer::kernels
{
namespace
{

using test::all_near;
using test::nan_filled;
using test::random_values;

Conv2dShape geometry(int n, int h, int w, int in_c, int out_c, int k, int dilation, bool same)
{
    return test::keras_conv_shape(n, h, w, in_c, out_c, k, dilation, 1, same);
}

const Activation k_relu{ActivationKind::relu};

TEST(Conv2dBf16WinoShapes, OnlyStrideOne3x3And2x2WithEvenInputChannels)
{
    EXPECT_TRUE(bf16_winograd_applies(geometry(1, 8, 8, 16, 16, 3, 1, true)));
    EXPECT_TRUE(bf16_winograd_applies(geometry(1, 8, 8, 64, 17, 3, 2, false)));
    EXPECT_FALSE(bf16_winograd_applies(geometry(1, 8, 8, 17, 16, 3, 1, true))); // odd in_c
    EXPECT_FALSE(bf16_winograd_applies(geometry(1, 8, 8, 14, 16, 3, 1, true))); // too few
    EXPECT_FALSE(bf16_winograd_applies(geometry(1, 8, 8, 16, 8, 3, 1, true)));
    EXPECT_TRUE(bf16_winograd_applies(geometry(1, 8, 8, 16, 16, 2, 1, true)));
    EXPECT_FALSE(bf16_winograd_applies(geometry(1, 8, 8, 16, 16, 1, 1, true)));
    EXPECT_FALSE(bf16_winograd_applies(test::keras_conv_shape(1, 8, 8, 16, 16, 3, 1, 2, true)));
}

TEST(Conv2dBf16WinoReference, IsAConvolutionWithinBf16Rounding)
{
    // Against fp32: the transformed inputs (|V| <= 4 max|x|) and weights (|U| <= 2.25 max|w|)
    // rounded to bf16 (2^-9 relative each), 16 points x in_c products per output, summed with
    // the output transform's coefficients (|A| <= 1, 4 of them per point and axis): a loose
    // bound. The mean error must also be of bf16 size (larger than fp32's, far below the bound).
    std::mt19937 rng(5);
    for (auto [k, w, d, same] :
         {std::tuple{3, 9, 1, true}, std::tuple{3, 13, 2, true}, std::tuple{3, 12, 1, false},
          std::tuple{3, 7, 3, true}, std::tuple{2, 9, 1, true}, std::tuple{2, 8, 2, false}})
    {
        const Conv2dShape s = geometry(2, 10, w, 32, 20, k, d, same);
        const auto in = random_values(s.in_size(), rng);
        const auto wt = random_values(static_cast<std::size_t>(k) * k * s.in_c * s.out_c, rng);
        const auto bias = random_values(s.out_c, rng);
        auto fp32 = nan_filled(s.out_size());
        auto wino = nan_filled(s.out_size());
        const Activation linear{};
        conv2d_ref(s, in.data(), wt.data(), bias.data(), linear, fp32.data());
        const PackedWeights packed = conv2d_bf16_wino_ref_pack(s, wt.data());
        conv2d_bf16_wino_ref(s, in.data(), packed.data(), bias.data(), linear, wino.data());
        const float bound = 16 * 32 * 4 * 2.25f * 2 * 0x1p-9f;
        ASSERT_TRUE(all_near(fp32, wino, bound, "bf16 wino ref vs fp32 ref"));
        double mean = 0.0;
        for (std::size_t i = 0; i < fp32.size(); ++i)
            mean += std::fabs(fp32[i] - wino[i]);
        mean /= static_cast<double>(fp32.size());
        EXPECT_GT(mean, 1e-4) << s; // it does round
        EXPECT_LT(mean, 0.05) << s; // typical errors: ~0.01 for sums of ~290 products of U(-1,1)
    }
}

TEST(Conv2dBf16WinoReference, OtherShapesAreTheDirectBf16Oracle)
{
    std::mt19937 rng(6);
    for (const Conv2dShape& s :
         {geometry(1, 6, 7, 17, 16, 3, 1, true), geometry(1, 6, 7, 16, 16, 1, 1, true),
          test::keras_conv_shape(1, 6, 7, 16, 16, 3, 1, 2, true)})
    {
        const auto in = random_values(s.in_size(), rng);
        const auto wt =
            random_values(static_cast<std::size_t>(s.kh) * s.kw * s.in_c * s.out_c, rng);
        auto want = nan_filled(s.out_size());
        auto got = nan_filled(s.out_size());
        const PackedWeights direct = conv2d_bf16_ref_pack(s, wt.data());
        const PackedWeights wino = conv2d_bf16_wino_ref_pack(s, wt.data());
        conv2d_bf16_ref(s, in.data(), direct.data(), nullptr, k_relu, want.data());
        conv2d_bf16_wino_ref(s, in.data(), wino.data(), nullptr, k_relu, got.data());
        ASSERT_TRUE(all_near(want, got, 0.0f, "not Winograd: the direct bf16 oracle"));
    }
}

/// Every conv2d_bf16_wino entry of kernels.def, through its own packer, against the oracle.
class Conv2dBf16WinoVariants : public ::testing::TestWithParam<Conv2dVariant>
{
protected:
    void SetUp() override
    {
        if (!cpu_supports(GetParam().isa))
            GTEST_SKIP() << "conv2d_bf16_wino " << GetParam().name << ": CPU lacks "
                         << isa_name(GetParam().isa);
    }

    /// Same transformed and rounded operands on both sides (the transforms only add, in the same
    /// order): they differ in the order of the fp32 sums over input channels only.
    ::testing::AssertionResult check(const Conv2dShape& s, const Activation& act, bool bias,
                                     std::mt19937& rng, float tol = 2e-4f) const
    {
        const Conv2dVariant& v = GetParam();
        const auto in = random_values(s.in_span(), rng);
        const auto w = random_values(static_cast<std::size_t>(s.kh) * s.kw * s.in_c * s.out_c, rng);
        const auto b = random_values(s.out_c, rng);
        const PackedWeights packed = v.pack(s, w.data());
        const PackedWeights ref_packed = conv2d_bf16_wino_ref_pack(s, w.data());
        auto want = nan_filled(s.out_span());
        auto got = nan_filled(s.out_span());
        conv2d_bf16_wino_ref(s, in.data(), ref_packed.data(), bias ? b.data() : nullptr, act,
                             want.data());
        v.run(s, in.data(), packed.data(), bias ? b.data() : nullptr, act, got.data());
        for (std::size_t i = 0; i < got.size(); ++i) // channels a strided output skips
            if (std::isnan(want[i]) && std::isnan(got[i]))
                want[i] = got[i] = 0.0f;
        std::ostringstream what;
        what << "conv2d_bf16_wino_" << v.name << " act " << static_cast<int>(act.kind) << " " << s;
        return all_near(want, got, tol, what.str());
    }
};

TEST_P(Conv2dBf16WinoVariants, MatchesOracleOnAwkwardShapes)
{
    std::mt19937 rng(42);
    // Channel counts leaving remainders in every 16-lane vector and 32-channel block, widths
    // leaving every 14-tile register block and 2-pixel tile remainder, dilations, same and valid
    // padding, two images, 3x3 and 2x2; odd in_c (not Winograd) through the direct kernel.
    for (auto [ci, co] : {std::pair{16, 16}, std::pair{18, 33}, std::pair{64, 47},
                          std::pair{40, 64}, std::pair{17, 20}})
        for (int w : {1, 2, 5, 13, 29, 30})
            for (auto [k, d] : {std::pair{3, 1}, std::pair{3, 2}, std::pair{2, 1}})
                for (bool same : {true, false})
                {
                    const Conv2dShape s = geometry(2, 5, w, ci, co, k, d, same);
                    if (s.out_h <= 0 || s.out_w <= 0)
                        continue;
                    ASSERT_TRUE(check(s, k_relu, true, rng));
                }
}

TEST_P(Conv2dBf16WinoVariants, ManyTilesAndChannels)
{
    // Enough tiles for several blocks of tiles (both parallel paths) and a long K.
    std::mt19937 rng(43);
    ASSERT_TRUE(check(geometry(1, 60, 70, 32, 48, 3, 1, true), k_relu, true, rng));
    ASSERT_TRUE(check(geometry(1, 60, 70, 32, 48, 2, 1, true), k_relu, true, rng));
    // ~4200 tiles of 16 -> 16 channels: blocks of ~400 tiles, one per task on <= 2-3 threads.
    ASSERT_TRUE(check(geometry(1, 130, 130, 16, 16, 3, 1, true), k_relu, true, rng));
    ASSERT_TRUE(check(geometry(1, 6, 9, 512, 40, 3, 1, true), k_relu, true, rng, 1e-3f));
}

TEST_P(Conv2dBf16WinoVariants, EveryActivationAndNoBias)
{
    std::mt19937 rng(47);
    const Conv2dShape s = geometry(2, 7, 9, 24, 21, 3, 2, true);
    for (const Activation& act : test::every_activation())
        for (bool bias : {true, false})
            ASSERT_TRUE(check(s, act, bias, rng));
}

TEST_P(Conv2dBf16WinoVariants, PixelStrides)
{
    std::mt19937 rng(48);
    Conv2dShape s = geometry(1, 6, 11, 20, 37, 3, 1, true);
    s.in_pixel_stride = 23;
    s.out_pixel_stride = 41;
    ASSERT_TRUE(check(s, k_relu, true, rng));
}

INSTANTIATE_TEST_SUITE_P(Kernels, Conv2dBf16WinoVariants,
                         ::testing::ValuesIn(conv2d_bf16_wino_variants()),
                         [](const auto& p) { return std::string(p.param.name); });

} // namespace
} // namespace atrous::infer::kernels
