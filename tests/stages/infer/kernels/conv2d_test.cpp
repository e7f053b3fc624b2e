// SPDX-License-Identifier: Apache-2.0
// Purpose: every TBB convolution kernel (conv2d, depthwise, transpose) against its reference on
// awkward shapes: 1x1 and 7x9 images, 1/3/13/64 channels, dilation 1/2/4, even kernels, strides.

#include "kernel_test_util.hpp"
#include "stages/infer/kernels/kernels.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace atrous::infer::kernels
{
namespace
{

using test::all_near;
using test::nan_filled;
using test::random_values;

struct Case
{
    int h, w, in_c, out_c, k, dilation, stride;
    bool same;
};

/// Keras/TF geometry for the case (as the layers compute it).
Conv2dShape geometry(const Case& c, int n)
{
    Conv2dShape s;
    s.n = n;
    s.in_h = c.h;
    s.in_w = c.w;
    s.in_c = c.in_c;
    s.out_c = c.out_c;
    s.kh = s.kw = c.k;
    s.stride_h = s.stride_w = c.stride;
    s.dilation_h = s.dilation_w = c.dilation;
    const int k_eff = (c.k - 1) * c.dilation + 1;
    const auto axis = [&](int in, int& out, int& pad)
    {
        if (c.same)
        {
            out = (in + c.stride - 1) / c.stride;
            pad = std::max((out - 1) * c.stride + k_eff - in, 0) / 2;
        }
        else
        {
            out = in >= k_eff ? (in - k_eff) / c.stride + 1 : 0;
            pad = 0;
        }
    };
    axis(c.h, s.out_h, s.pad_top);
    axis(c.w, s.out_w, s.pad_left);
    return s;
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
