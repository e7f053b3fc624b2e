// SPDX-License-Identifier: Apache-2.0
// Purpose: bf16 rounding (to_bf16), the portable bf16 oracle conv2d_bf16_ref against fp32, and
// every conv2d_bf16 entry of kernels.def against that oracle on awkward shapes (skipped with the
// reason on a CPU without the variant's instructions, e.g. AVX2-only CI).

#include "kernel_test_util.hpp"
#include "stages/infer/kernels/dispatch.hpp"
#include "stages/infer/kernels/kernels.hpp"
#include "tests/support/conv_shape.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace atrous::infer::kernels
{
namespace
{

using test::all_near;
using test::nan_filled;
using test::random_values;

float bits_to_float(std::uint32_t u)
{
    float x;
    std::memcpy(&x, &u, 4);
    return x;
}

TEST(Bf16Rounding, NearestEvenOverflowNanDenormal)
{
    EXPECT_EQ(to_bf16(1.0f), 0x3f80);
    EXPECT_EQ(to_bf16(-2.0f), 0xc000);
    // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1).
    EXPECT_EQ(to_bf16(1.0f + 0x1p-8f), 0x3f80);
    // 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up to the even one.
    EXPECT_EQ(to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);
    EXPECT_EQ(to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);         // above halfway: up
    EXPECT_EQ(to_bf16(std::numeric_limits<float>::max()), 0x7f80); // rounds to +inf
    EXPECT_EQ(to_bf16(-std::numeric_limits<float>::infinity()), 0xff80);
    EXPECT_TRUE(std::isnan(bf16_to_float(to_bf16(std::numeric_limits<float>::quiet_NaN()))));
    // A signalling NaN whose payload lies in the dropped bits stays a NaN (not infinity).
    EXPECT_TRUE(std::isnan(bf16_to_float(to_bf16(bits_to_float(0x7f800001u)))));
    EXPECT_EQ(to_bf16(bits_to_float(0x00400000u)), 0x0000); // denormal: flushed, as VCVTNEPS2BF16
    EXPECT_EQ(to_bf16(bits_to_float(0x80400000u)), 0x8000);
    EXPECT_EQ(round_to_bf16(3.14159265f), 3.140625f);
}

/// Keras "same" geometry, or "valid" when `same` is false.
Conv2dShape geometry(int n, int h, int w, int in_c, int out_c, int k, int dilation, int stride,
                     bool same)
{
    return test::keras_conv_shape(n, h, w, in_c, out_c, k, dilation, stride, same);
}

const Activation k_relu{ActivationKind::relu};

TEST(Conv2dBf16Reference, RoundsInputsAndWeightsOnly)
{
    // Against fp32: within the bf16 rounding of both operands (2 * 2^-9 relative per product),
    // and visibly different (it does round).
    std::mt19937 rng(5);
    const Conv2dShape s = geometry(1, 7, 9, 13, 21, 3, 1, 1, true);
    const auto in = random_values(s.in_size(), rng);
    const auto w = random_values(static_cast<std::size_t>(9) * s.in_c * s.out_c, rng);
    auto fp32 = nan_filled(s.out_size());
    auto bf16 = nan_filled(s.out_size());
    const Activation linear{};
    conv2d_ref(s, in.data(), w.data(), nullptr, linear, fp32.data());
    const PackedWeights packed = conv2d_bf16_ref_pack(s, w.data());
    conv2d_bf16_ref(s, in.data(), packed.data(), nullptr, linear, bf16.data());
    const float bound = 9 * 13 * 2 * 0x1p-9f; // K products of |x|, |w| <= 1
    ASSERT_TRUE(all_near(fp32, bf16, bound, "bf16 ref vs fp32 ref"));
    float max_diff = 0.0f;
    for (std::size_t i = 0; i < fp32.size(); ++i)
        max_diff = std::max(max_diff, std::fabs(fp32[i] - bf16[i]));
    EXPECT_GT(max_diff, 1e-4f);
    // Inputs already bf16: the oracle equals the fp32 reference on the rounded operands.
    std::vector<float> in_r(in), w_r(w);
    for (float& x : in_r)
        x = round_to_bf16(x);
    for (float& x : w_r)
        x = round_to_bf16(x);
    conv2d_ref(s, in_r.data(), w_r.data(), nullptr, linear, fp32.data());
    conv2d_bf16_ref(s, in.data(), packed.data(), nullptr, linear, bf16.data());
    ASSERT_TRUE(all_near(fp32, bf16, 0.0f, "bf16 ref vs fp32 ref on rounded operands"));
}

/// Every conv2d_bf16 entry of kernels.def, through its own packer, against conv2d_bf16_ref.
class Conv2dBf16Variants : public ::testing::TestWithParam<Conv2dVariant>
{
protected:
    void SetUp() override
    {
        if (!cpu_supports(GetParam().isa))
            GTEST_SKIP() << "conv2d_bf16 " << GetParam().name << ": CPU lacks "
                         << isa_name(GetParam().isa);
    }

    /// Both run on the same data; the products of bf16 values are exact in fp32, so the two
    /// differ only in the order of the fp32 sums: `tol` (1e-4 for sums of <= ~600 products of
    /// U(-1, 1), as the fp32 kernels' test).
    ::testing::AssertionResult check(const Conv2dShape& s, const Activation& act, bool bias,
                                     std::mt19937& rng, float tol = 1e-4f) const
    {
        const Conv2dVariant& v = GetParam();
        const auto in = random_values(s.in_span(), rng);
        const auto w = random_values(static_cast<std::size_t>(s.kh) * s.kw * s.in_c * s.out_c, rng);
        const auto b = random_values(s.out_c, rng);
        const PackedWeights packed = v.pack(s, w.data());
        const PackedWeights ref_packed = conv2d_bf16_ref_pack(s, w.data());
        auto want = nan_filled(s.out_span());
        auto got = nan_filled(s.out_span());
        conv2d_bf16_ref(s, in.data(), ref_packed.data(), bias ? b.data() : nullptr, act,
                        want.data());
        v.run(s, in.data(), packed.data(), bias ? b.data() : nullptr, act, got.data());
        // Channels a strided output skips stay NaN in both.
        for (std::size_t i = 0; i < got.size(); ++i)
            if (std::isnan(want[i]) && std::isnan(got[i]))
                want[i] = got[i] = 0.0f;
        std::ostringstream what;
        what << "conv2d_bf16_" << v.name << " act " << static_cast<int>(act.kind) << " " << s;
        return all_near(want, got, tol, what.str());
    }
};

TEST_P(Conv2dBf16Variants, MatchesBf16ReferenceOnAwkwardShapes)
{
    std::mt19937 rng(42);
    // Odd K (1 and 3 input channels: pairs straddle taps), channel counts leaving remainders in
    // every 16-lane vector and 32-channel block, widths leaving every 14-pixel tile remainder,
    // strides, dilations, same and valid padding, two images.
    for (auto [ci, co] : {std::pair{1, 1}, std::pair{1, 64}, std::pair{3, 13}, std::pair{13, 3},
                          std::pair{17, 33}, std::pair{8, 24}, std::pair{5, 9}, std::pair{64, 64},
                          std::pair{64, 2}, std::pair{40, 47}})
        for (int w : {1, 6, 13, 14, 15, 29})
            for (auto [k, d] : {std::pair{3, 1}, std::pair{3, 2}, std::pair{2, 1}, std::pair{1, 1}})
                for (int stride : {1, 2})
                    for (bool same : {true, false})
                    {
                        const Conv2dShape s = geometry(2, 5, w, ci, co, k, d, stride, same);
                        if (s.out_h <= 0 || s.out_w <= 0)
                            continue;
                        ASSERT_TRUE(check(s, k_relu, true, rng));
                    }
}

TEST_P(Conv2dBf16Variants, KBlocksAndManyInputChannels)
{
    std::mt19937 rng(46);
    // K = 9900 (26 K blocks), K = 9 * 111 (odd: the last pair's partner is padding) and a 1x1
    // convolution with K = 385 (two K blocks, the second odd).
    ASSERT_TRUE(check(geometry(1, 3, 8, 1100, 18, 3, 2, 1, true), k_relu, true, rng, 5e-4f));
    ASSERT_TRUE(check(geometry(1, 4, 15, 111, 40, 3, 1, 1, true), k_relu, true, rng, 2e-4f));
    ASSERT_TRUE(check(geometry(1, 4, 15, 385, 40, 1, 1, 1, true), k_relu, true, rng, 2e-4f));
}

TEST_P(Conv2dBf16Variants, EveryActivationAndNoBias)
{
    std::mt19937 rng(47);
    const Conv2dShape s = geometry(2, 7, 9, 13, 21, 3, 2, 1, true);
    for (const Activation& act : test::every_activation())
        for (bool bias : {true, false})
            ASSERT_TRUE(check(s, act, bias, rng));
}

TEST_P(Conv2dBf16Variants, PixelStrides)
{
    // A channel slice of a wider input and output (in-place concatenation): the channels
    // outside [0, in_c) are read by neither, those outside [0, out_c) written by neither.
    std::mt19937 rng(48);
    for (int k : {1, 3})
    {
        Conv2dShape s = geometry(1, 6, 11, 19, 37, k, 1, 1, true);
        s.in_pixel_stride = 23;
        s.out_pixel_stride = 41;
        ASSERT_TRUE(check(s, k_relu, true, rng));
    }
}

INSTANTIATE_TEST_SUITE_P(Kernels, Conv2dBf16Variants, ::testing::ValuesIn(conv2d_bf16_variants()),
                         [](const auto& p) { return std::string(p.param.name); });

} // namespace
} // namespace atrous::infer::kernels
