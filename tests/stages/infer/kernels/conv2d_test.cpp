// SPDX-License-Identifier: Apache-2.0
// Purpose: every TBB convolution kernel (conv2d, depthwise, transpose) against its reference on
// awkward shapes: 1x1 and 7x9 images, 1/3/13/64 channels, dilation 1/2/4, even kernels, strides.

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
using test::VariantTest;

struct Case
{
    int h, w, in_c, out_c, k, dilation, stride;
    bool same;
};

/// Keras/TF geometry for the case (as the layers compute it).
Conv2dShape geometry(const Case& c, int n)
{
    return test::keras_conv_shape(n, c.h, c.w, c.in_c, c.out_c, c.k, c.dilation, c.stride, c.same);
}

std::vector<Case> cases()
{
    std::vector<Case> out;
    for (auto [h, w] : {std::pair{1, 1}, std::pair{7, 9}, std::pair{4, 13}})
        for (auto [ci, co] : {std::pair{1, 1}, std::pair{3, 13}, std::pair{13, 3},
                              std::pair{64, 64}, std::pair{3, 64}})
            for (int k : {1, 2, 3})
                for (int d : {1, 2, 4})
                    for (bool same : {true, false})
                        for (int stride : {1, 2})
                        {
                            if (k == 1 && d > 1)
                                continue;
                            if (!same && (h < (k - 1) * d + 1 || w < (k - 1) * d + 1))
                                continue;
                            out.push_back(Case{h, w, ci, co, k, d, stride, same});
                        }
    return out;
}

const Activation k_relu{ActivationKind::relu};

TEST(Conv2dKernel, TbbMatchesReference)
{
    std::mt19937 rng(42);
    for (const Case& c : cases())
    {
        const Conv2dShape s = geometry(c, 2);
        const auto in = random_values(s.in_size(), rng);
        const auto w = random_values(static_cast<std::size_t>(s.kh) * s.kw * s.in_c * s.out_c, rng);
        const auto bias = random_values(s.out_c, rng);
        auto want = nan_filled(s.out_size());
        auto got = nan_filled(s.out_size());
        conv2d_ref(s, in.data(), w.data(), bias.data(), k_relu, want.data());
        conv2d_tbb(s, in.data(), w.data(), bias.data(), k_relu, got.data());
        std::ostringstream what;
        what << "conv2d " << s;
        ASSERT_TRUE(all_near(want, got, 1e-4f, what.str()));
    }
}

TEST(Conv2dKernel, TbbWithoutBiasAndSoftmax)
{
    std::mt19937 rng(43);
    const Case c{7, 9, 13, 5, 3, 2, 1, true};
    const Conv2dShape s = geometry(c, 1);
    const auto in = random_values(s.in_size(), rng);
    const auto w = random_values(static_cast<std::size_t>(9) * s.in_c * s.out_c, rng);
    auto want = nan_filled(s.out_size());
    auto got = nan_filled(s.out_size());
    const Activation softmax{ActivationKind::softmax};
    conv2d_ref(s, in.data(), w.data(), nullptr, softmax, want.data());
    conv2d_tbb(s, in.data(), w.data(), nullptr, softmax, got.data());
    ASSERT_TRUE(all_near(want, got, 1e-5f, "conv2d softmax"));
}

/// Every conv2d entry of kernels.def, through its own packer, against conv2d_ref.
class Conv2dVariants : public VariantTest<Conv2dVariant>
{
protected:
    /// Runs the variant and the reference on random data; fails with the shape and index.
    ::testing::AssertionResult check(const Conv2dShape& s, const Activation& act, bool bias,
                                     std::mt19937& rng, float tol = 1e-4f) const
    {
        const Conv2dVariant& v = GetParam();
        const auto in = random_values(s.in_size(), rng);
        const auto w = random_values(static_cast<std::size_t>(s.kh) * s.kw * s.in_c * s.out_c, rng);
        const auto b = random_values(s.out_c, rng);
        const PackedWeights packed = v.pack(s, w.data());
        auto want = nan_filled(s.out_size());
        auto got = nan_filled(s.out_size());
        conv2d_ref(s, in.data(), w.data(), bias ? b.data() : nullptr, act, want.data());
        v.run(s, in.data(), packed.data(), bias ? b.data() : nullptr, act, got.data());
        std::ostringstream what;
        what << "conv2d_" << v.name << " act " << static_cast<int>(act.kind) << " " << s;
        // Winograd F(4x4, 3x3) rounds more than a direct sum (its transforms scale terms by up to
        // 100 before they cancel), so its error grows with the size of the outputs, not of each
        // output: the bound is 5e-5 of the largest |output| (measured: up to 2e-5 here, sums of
        // up to 9900 products of U(-1, 1)). The full seed U-Net stays within 1e-4 of PyTorch's
        // float64 (tools/check_full_unet.py: 3.0e-5).
        if (winograd_applies(s) && v.name.find("wino") != std::string_view::npos)
        {
            float scale = 0.0f;
            for (float x : want)
                scale = std::max(scale, std::fabs(x));
            tol += 5e-5f * scale;
        }
        return all_near(want, got, tol, what.str());
    }
};

TEST_P(Conv2dVariants, MatchesReferenceOnAwkwardShapes)
{
    std::mt19937 rng(42);
    std::vector<Case> all = cases();
    // Channel counts leaving a remainder in every register tile (16-channel blocks, 8 lanes),
    // widths leaving every pixel-tile remainder, and the dilated/even kernels of the U-Net.
    // (64, 2), (40, 1), (9, 4): the narrow path (<= 4 output channels, >= 8 input channels).
    for (auto [ci, co] : {std::pair{17, 33}, std::pair{8, 24}, std::pair{5, 9}, std::pair{64, 2},
                          std::pair{40, 1}, std::pair{9, 4}})
        for (int w : {6, 11, 12, 13, 14, 15, 16})
            for (auto [k, d] : {std::pair{3, 1}, std::pair{3, 2}, std::pair{2, 1}, std::pair{1, 1}})
                all.push_back(Case{5, w, ci, co, k, d, 1, true});
    for (const Case& c : all)
        ASSERT_TRUE(check(geometry(c, 2), k_relu, true, rng));
}

TEST_P(Conv2dVariants, InputChannelsBeyondOneChunk)
{
    std::mt19937 rng(46);
    const Conv2dShape s = geometry(Case{3, 8, 1100, 18, 3, 2, 1, true}, 1);
    ASSERT_TRUE(check(s, k_relu, true, rng, 5e-4f)); // sums of 9900 products
}

TEST_P(Conv2dVariants, EveryActivationAndNoBias)
{
    std::mt19937 rng(47);
    const Conv2dShape s = geometry(Case{7, 9, 13, 21, 3, 2, 1, true}, 2);
    for (const Activation& act : test::every_activation())
        for (bool bias : {true, false})
            ASSERT_TRUE(check(s, act, bias, rng));
}

TEST_P(Conv2dVariants, WinogradShapes)
{
    // 3x3 and 2x2 stride-1 shapes the _wino variants run with Winograd F(4x4, 3x3) / F(3x3, 2x2):
    // sizes that are not multiples of 4 or 3 (partial tiles), dilation 1..3 (per-axis
    // sub-lattices of uneven sizes), same and valid padding, channel counts leaving remainders in
    // every vector and block.
    std::mt19937 rng(48);
    for (int k : {3, 2})
        for (auto [h, w] : {std::pair{1, 1}, std::pair{5, 7}, std::pair{10, 13}, std::pair{17, 4}})
            for (auto [ci, co] : {std::pair{16, 16}, std::pair{17, 33}, std::pair{40, 70}})
                for (auto [dh, dw] :
                     {std::pair{1, 1}, std::pair{2, 2}, std::pair{1, 2}, std::pair{3, 3}})
                    for (bool same : {true, false})
                    {
                        Case c{h, w, ci, co, k, dh, 1, same};
                        Conv2dShape s = geometry(c, 2);
                        if (dw != dh)
                        {
                            // geometry() is isotropic: redo the column axis with dilation dw.
                            s.dilation_w = dw;
                            const int k_eff = (k - 1) * dw + 1;
                            s.out_w = same ? w : w - k_eff + 1;
                            s.pad_left = same ? (k_eff - 1) / 2 : 0;
                        }
                        if (s.out_h <= 0 || s.out_w <= 0)
                            continue;
                        ASSERT_TRUE(winograd_applies(s)) << s;
                        ASSERT_TRUE(check(s, k_relu, true, rng));
                    }
}

TEST_P(Conv2dVariants, WinogradManyTiles)
{
    // Enough tiles for several blocks (the block-parallel path) and deep inputs.
    std::mt19937 rng(49);
    ASSERT_TRUE(check(geometry(Case{70, 61, 32, 48, 3, 1, 1, true}, 1), k_relu, true, rng));
    ASSERT_TRUE(check(geometry(Case{9, 11, 300, 24, 3, 2, 1, true}, 1), k_relu, true, rng, 3e-4f));
    ASSERT_TRUE(check(geometry(Case{64, 57, 48, 40, 2, 1, 1, true}, 1), k_relu, true, rng));
}

TEST(Conv2dWinograd, AppliesToThreeAndTwoStrideOneWithEnoughChannels)
{
    EXPECT_TRUE(winograd_applies(geometry(Case{8, 8, 16, 16, 3, 2, 1, true}, 1)));
    EXPECT_TRUE(winograd_applies(geometry(Case{8, 8, 16, 16, 2, 1, 1, true}, 1)));
    EXPECT_FALSE(winograd_applies(geometry(Case{8, 8, 16, 16, 3, 1, 2, true}, 1)));
    EXPECT_FALSE(winograd_applies(geometry(Case{8, 8, 16, 16, 1, 1, 1, true}, 1)));
    EXPECT_FALSE(winograd_applies(geometry(Case{8, 8, 16, 16, 5, 1, 1, true}, 1)));
    EXPECT_FALSE(winograd_applies(geometry(Case{8, 8, 1, 64, 3, 1, 1, true}, 1)));
    EXPECT_FALSE(winograd_applies(geometry(Case{8, 8, 64, 2, 3, 1, 1, true}, 1)));
}

INSTANTIATE_TEST_SUITE_P(KernelsDef, Conv2dVariants,
                         ::testing::ValuesIn(conv2d_variants().begin(), conv2d_variants().end()),
                         [](const ::testing::TestParamInfo<Conv2dVariant>& param)
                         { return std::string(param.param.name); });

TEST(Conv2dDispatch, FastIsTheLastSupportedVariant)
{
    const auto all = conv2d_variants();
    ASSERT_GE(all.size(), 2u);
    EXPECT_EQ(all.front().name, "ref");
    const Conv2dVariant& fast = conv2d_fast();
    EXPECT_TRUE(cpu_supports(fast.isa));
    for (const Conv2dVariant* v = &fast + 1; v != all.data() + all.size(); ++v)
        EXPECT_FALSE(cpu_supports(v->isa)) << v->name << " is supported but not chosen";
}

TEST(DepthwiseConv2dKernel, TbbMatchesReference)
{
    std::mt19937 rng(44);
    for (Case c : cases())
        for (int dm : {1, 3})
        {
            c.out_c = c.in_c * dm;
            const Conv2dShape s = geometry(c, 2);
            const auto in = random_values(s.in_size(), rng);
            const auto w = random_values(static_cast<std::size_t>(s.kh) * s.kw * s.out_c, rng);
            const auto bias = random_values(s.out_c, rng);
            auto want = nan_filled(s.out_size());
            auto got = nan_filled(s.out_size());
            depthwise_conv2d_ref(s, in.data(), w.data(), bias.data(), k_relu, want.data());
            depthwise_conv2d_tbb(s, in.data(), w.data(), bias.data(), k_relu, got.data());
            std::ostringstream what;
            what << "depthwise dm " << dm << " " << s;
            ASSERT_TRUE(all_near(want, got, 1e-4f, what.str()));
        }
}

TEST(Conv2dTransposeKernel, TbbMatchesReference)
{
    std::mt19937 rng(45);
    for (auto [h, w] : {std::pair{1, 1}, std::pair{7, 9}})
        for (auto [ci, co] : {std::pair{1, 1}, std::pair{3, 13}, std::pair{64, 13}})
            for (int k : {1, 2, 3, 4})
                for (int stride : {1, 2, 3})
                    for (int pad : {0, 1})
                    {
                        Conv2dShape s;
                        s.n = 2;
                        s.in_h = h;
                        s.in_w = w;
                        s.in_c = ci;
                        s.out_c = co;
                        s.kh = s.kw = k;
                        s.stride_h = s.stride_w = stride;
                        s.out_h = h * stride + std::max(k - stride, 0) - pad;
                        s.out_w = w * stride + std::max(k - stride, 0) - pad;
                        s.pad_top = s.pad_left = pad;
                        const auto in = random_values(s.in_size(), rng);
                        const auto wt =
                            random_values(static_cast<std::size_t>(k) * k * ci * co, rng);
                        const auto bias = random_values(co, rng);
                        auto want = nan_filled(s.out_size());
                        auto got = nan_filled(s.out_size());
                        conv2d_transpose_ref(s, in.data(), wt.data(), bias.data(), k_relu,
                                             want.data());
                        conv2d_transpose_tbb(s, in.data(), wt.data(), bias.data(), k_relu,
                                             got.data());
                        std::ostringstream what;
                        what << "conv2d_transpose " << s;
                        ASSERT_TRUE(all_near(want, got, 1e-4f, what.str()));
                    }
}

} // namespace
} // namespace atrous::infer::kernels
