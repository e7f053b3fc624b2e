// SPDX-License-Identifier: Apache-2.0
// Purpose: every depthwise_conv2d and separable_conv2d entry of kernels.def against the reference
// kernels (depthwise_conv2d_ref; depthwise_conv2d_ref then dense_ref): awkward sizes, channel
// remainders, dilation, strides, same/valid padding, depth multipliers, every activation, the
// fused (band) and unfused paths of the separable kernels, pixel strides.

#include "kernel_test_util.hpp"
#include "stages/infer/kernels/dispatch.hpp"
#include "stages/infer/kernels/kernels.hpp"

#include <gtest/gtest.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <limits>
#include <sstream>

namespace atrous::infer::kernels
{
namespace
{

using test::all_near;
using test::nan_filled;
using test::random_values;
using test::VariantTest;

/// Keras geometry of a k x k window (same or valid padding).
Conv2dShape window(int n, int h, int w, int c, int k, int dilation, int stride, bool same)
{
    Conv2dShape s;
    s.n = n;
    s.in_h = h;
    s.in_w = w;
    s.in_c = s.out_c = c;
    s.kh = s.kw = k;
    s.stride_h = s.stride_w = stride;
    s.dilation_h = s.dilation_w = dilation;
    const int k_eff = (k - 1) * dilation + 1;
    const auto axis = [&](int in, int& out, int& pad)
    {
        if (same)
        {
            out = (in + stride - 1) / stride;
            pad = std::max((out - 1) * stride + k_eff - in, 0) / 2;
        }
        else
        {
            out = in >= k_eff ? (in - k_eff) / stride + 1 : 0;
            pad = 0;
        }
    };
    axis(h, s.out_h, s.pad_top);
    axis(w, s.out_w, s.pad_left);
    return s;
}

std::vector<Conv2dShape> depthwise_cases()
{
    std::vector<Conv2dShape> out;
    for (auto [h, w] : {std::pair{1, 1}, std::pair{7, 9}, std::pair{5, 23}, std::pair{12, 4}})
        for (int c : {1, 5, 16, 37, 64})
            for (int k : {1, 2, 3, 5})
                for (int d : {1, 2, 3})
                    for (int stride : {1, 2})
                        for (bool same : {true, false})
                        {
                            if (k == 1 && d > 1)
                                continue;
                            const Conv2dShape s = window(2, h, w, c, k, d, stride, same);
                            if (s.out_h <= 0 || s.out_w <= 0)
                                continue;
                            out.push_back(s);
                        }
    return out;
}

class DepthwiseVariants : public VariantTest<DepthwiseVariant>
{
protected:
    ::testing::AssertionResult check(const Conv2dShape& s, const Activation& act, bool bias,
                                     std::mt19937& rng) const
    {
        const auto in = random_values(s.in_size(), rng);
        const auto w = random_values(static_cast<std::size_t>(s.kh) * s.kw * s.out_c, rng);
        const auto b = random_values(s.out_c, rng);
        auto want = nan_filled(s.out_size());
        auto got = nan_filled(s.out_size());
        depthwise_conv2d_ref(s, in.data(), w.data(), bias ? b.data() : nullptr, act, want.data());
        GetParam().run(s, in.data(), w.data(), bias ? b.data() : nullptr, act, got.data());
        std::ostringstream what;
        what << "depthwise_" << GetParam().name << " act " << static_cast<int>(act.kind) << " dm "
             << s.out_c / s.in_c << " " << s;
        return all_near(want, got, 1e-5f, what.str());
    }
};

TEST_P(DepthwiseVariants, MatchesReferenceOnAwkwardShapes)
{
    std::mt19937 rng(51);
    const Activation relu{ActivationKind::relu};
    for (const Conv2dShape& s : depthwise_cases())
        ASSERT_TRUE(check(s, relu, true, rng));
}

TEST_P(DepthwiseVariants, DepthMultiplierAndAnisotropicWindows)
{
    std::mt19937 rng(52);
    const Activation relu{ActivationKind::relu};
    for (int dm : {2, 3})
    {
        Conv2dShape s = window(1, 9, 11, 7, 3, 2, 1, true);
        s.out_c = s.in_c * dm;
        ASSERT_TRUE(check(s, relu, true, rng));
    }
    Conv2dShape s = window(2, 10, 17, 24, 3, 1, 1, true);
    s.kw = 5;
    s.dilation_w = 2;
    s.stride_h = 2;
    s.out_h = 5;
    s.pad_left = 4;
    ASSERT_TRUE(check(s, relu, true, rng));
}

TEST_P(DepthwiseVariants, EveryActivationAndNoBias)
{
    std::mt19937 rng(53);
    const Conv2dShape s = window(2, 7, 19, 21, 3, 2, 1, true);
    Activation capped{ActivationKind::relu};
    capped.max_value = 0.5f;
    capped.negative_slope = 0.1f;
    capped.threshold = -0.2f;
    for (const Activation& act :
         {Activation{ActivationKind::linear}, Activation{ActivationKind::relu}, capped,
          Activation{ActivationKind::sigmoid}, Activation{ActivationKind::tanh},
          Activation{ActivationKind::softmax}})
        for (bool bias : {true, false})
            ASSERT_TRUE(check(s, act, bias, rng));
}

INSTANTIATE_TEST_SUITE_P(KernelsDef, DepthwiseVariants,
                         ::testing::ValuesIn(depthwise_variants().begin(),
                                             depthwise_variants().end()),
                         [](const ::testing::TestParamInfo<DepthwiseVariant>& param)
                         { return std::string(param.param.name); });

TEST(DepthwiseDispatch, FastIsTheLastSupportedVariant)
{
    const auto all = depthwise_variants();
    ASSERT_GE(all.size(), 2u);
    EXPECT_EQ(all.front().name, "ref");
    const DepthwiseVariant& fast = depthwise_fast();
    EXPECT_TRUE(cpu_supports(fast.isa));
    for (const DepthwiseVariant* v = &fast + 1; v != all.data() + all.size(); ++v)
        EXPECT_FALSE(cpu_supports(v->isa)) << v->name << " is supported but not chosen";
}

class SeparableVariants : public VariantTest<SeparableVariant>
{
protected:
    /// `s`: the depthwise geometry with out_c = filters (pixel strides as set); runs the variant
    /// in an arena of `threads` threads against depthwise_conv2d_ref + dense_ref.
    ::testing::AssertionResult check(const Conv2dShape& s, int dm, const Activation& act,
                                     int threads, std::mt19937& rng) const
    {
        const SeparableVariant& v = GetParam();
        const int mid = s.in_c * dm;
        Conv2dShape dense = s;
        dense.in_pixel_stride = dense.out_pixel_stride = 0;
        Conv2dShape ds = dense;
        ds.out_c = mid;
        const std::size_t in_px = static_cast<std::size_t>(s.n) * s.in_h * s.in_w;
        const std::size_t out_px = static_cast<std::size_t>(s.n) * s.out_h * s.out_w;
        const auto in = random_values(dense.in_size(), rng);
        const auto dw = random_values(static_cast<std::size_t>(s.kh) * s.kw * mid, rng);
        const auto pw = random_values(static_cast<std::size_t>(mid) * s.out_c, rng);
        const auto bias = random_values(s.out_c, rng);
        std::vector<float> depth(ds.out_size());
        depthwise_conv2d_ref(ds, in.data(), dw.data(), nullptr, Activation{}, depth.data());
        auto want = nan_filled(dense.out_size());
        dense_ref(out_px, mid, s.out_c, depth.data(), pw.data(), bias.data(), act, want.data());

        const int ips = s.in_stride();
        const int ops = s.out_stride();
        std::vector<float> wide_in(in_px * ips, std::numeric_limits<float>::quiet_NaN());
        for (std::size_t p = 0; p < in_px; ++p)
            for (int c = 0; c < s.in_c; ++c)
                wide_in[p * ips + c] = in[p * s.in_c + c];
        std::vector<float> wide_out(out_px * ops, 777.0f);
        const PackedWeights packed = v.pack(s, dm, pw.data());
        oneapi::tbb::task_arena arena(threads);
        arena.execute(
            [&] {
                v.run(s, dm, wide_in.data(), dw.data(), packed.data(), bias.data(), act,
                      wide_out.data());
            });
        std::vector<float> got(dense.out_size());
        for (std::size_t p = 0; p < out_px; ++p)
            for (int c = 0; c < ops; ++c)
            {
                if (c >= s.out_c && wide_out[p * ops + c] != 777.0f)
                    return ::testing::AssertionFailure()
                           << v.name << " " << s << ": wrote channel " << c << " of pixel " << p;
                if (c < s.out_c)
                    got[p * s.out_c + c] = wide_out[p * ops + c];
            }
        std::ostringstream what;
        what << "separable_" << v.name << " dm " << dm << " threads " << threads << " act "
             << static_cast<int>(act.kind) << " " << s;
        return all_near(want, got, 1e-4f, what.str());
    }
};

TEST_P(SeparableVariants, MatchesReference)
{
    std::mt19937 rng(54);
    const Activation relu{ActivationKind::relu};
    for (int threads : {1, 2})
        for (const Conv2dShape& base :
             {window(1, 1, 1, 3, 3, 1, 1, true), window(2, 7, 9, 5, 3, 1, 1, true),
              window(1, 40, 40, 24, 3, 1, 1, true),  // bands: the fused path
              window(2, 33, 30, 37, 3, 2, 1, true),  // fused, dilated, remainders
              window(1, 64, 70, 16, 3, 1, 2, true),  // stride 2
              window(1, 17, 16, 70, 3, 2, 1, false), // valid
              window(3, 28, 28, 1, 3, 1, 1, true)})  // the classifier's first layer
            for (int filters : {1, 13, 32, 50})
            {
                Conv2dShape s = base;
                s.out_c = filters;
                ASSERT_TRUE(check(s, 1, relu, threads, rng));
            }
}

TEST_P(SeparableVariants, DepthMultiplierActivationsAndStrides)
{
    std::mt19937 rng(55);
    Conv2dShape s = window(1, 30, 31, 6, 3, 1, 1, true);
    s.out_c = 20;
    ASSERT_TRUE(check(s, 2, Activation{ActivationKind::relu}, 2, rng));
    for (const Activation& act :
         {Activation{ActivationKind::linear}, Activation{ActivationKind::sigmoid},
          Activation{ActivationKind::softmax}})
        ASSERT_TRUE(check(s, 1, act, 2, rng));
    s.in_pixel_stride = 11;
    s.out_pixel_stride = 27;
    ASSERT_TRUE(check(s, 1, Activation{ActivationKind::relu}, 2, rng));
    ASSERT_TRUE(check(s, 1, Activation{ActivationKind::relu}, 1, rng));
}

INSTANTIATE_TEST_SUITE_P(KernelsDef, SeparableVariants,
                         ::testing::ValuesIn(separable_variants().begin(),
                                             separable_variants().end()),
                         [](const ::testing::TestParamInfo<SeparableVariant>& param)
                         { return std::string(param.param.name); });

} // namespace
} // namespace atrous::infer::kernels
