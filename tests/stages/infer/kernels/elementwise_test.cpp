// SPDX-License-Identifier: Apache-2.0
// Purpose: the TBB pooling, upsampling, dense, concat, add, affine and activation kernels against
// their references on awkward sizes, outputs prefilled with NaN.

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

TEST(MaxPool2dKernel, TbbMatchesReference)
{
    std::mt19937 rng(50);
    for (auto [h, w] : {std::pair{1, 1}, std::pair{7, 9}, std::pair{8, 8}})
        for (int c : {1, 3, 13, 64})
            for (int k : {2, 3})
                for (int stride : {1, 2})
                    for (int pad : {0, 1})
                    {
                        Conv2dShape s;
                        s.n = 2;
                        s.in_h = h;
                        s.in_w = w;
                        s.in_c = s.out_c = c;
                        s.kh = s.kw = k;
                        s.stride_h = s.stride_w = stride;
                        s.pad_top = s.pad_left = pad;
                        // 'same'-like sizes: every window holds at least one input pixel.
                        s.out_h = (h + stride - 1) / stride;
                        s.out_w = (w + stride - 1) / stride;
                        const auto in = random_values(s.in_size(), rng);
                        auto want = nan_filled(s.out_size());
                        auto got = nan_filled(s.out_size());
                        max_pool2d_ref(s, in.data(), want.data());
                        max_pool2d_tbb(s, in.data(), got.data());
                        std::ostringstream what;
                        what << "max_pool2d " << s;
                        ASSERT_TRUE(all_near(want, got, 0.0f, what.str()));
                    }
}

TEST(UpsampleNearestKernel, TbbMatchesReference)
{
    std::mt19937 rng(51);
    for (auto [h, w] : {std::pair{1, 1}, std::pair{7, 9}})
        for (int c : {1, 3, 64})
            for (auto [fy, fx] : {std::pair{2, 2}, std::pair{1, 3}, std::pair{3, 2}})
            {
                const std::size_t out_size = 2ull * h * fy * w * fx * c;
                const auto in = random_values(2ull * h * w * c, rng);
                auto want = nan_filled(out_size);
                auto got = nan_filled(out_size);
                upsample_nearest_ref(2, h, w, c, fy, fx, in.data(), want.data());
                upsample_nearest_tbb(2, h, w, c, fy, fx, in.data(), got.data());
                ASSERT_TRUE(all_near(want, got, 0.0f, "upsample"));
            }
}

TEST(DenseKernel, TbbMatchesReference)
{
    std::mt19937 rng(52);
    for (std::size_t rows : {1u, 3u, 70u})
        for (int in_c : {1, 13, 200})
            for (int out_c : {1, 10, 64, 130})
                for (ActivationKind kind : {ActivationKind::linear, ActivationKind::softmax})
                {
                    const auto in = random_values(rows * in_c, rng);
                    const auto w = random_values(static_cast<std::size_t>(in_c) * out_c, rng);
                    const auto bias = random_values(out_c, rng);
                    auto want = nan_filled(rows * out_c);
                    auto got = nan_filled(rows * out_c);
                    const Activation act{kind};
                    dense_ref(rows, in_c, out_c, in.data(), w.data(), bias.data(), act,
                              want.data());
                    dense_tbb(rows, in_c, out_c, in.data(), w.data(), bias.data(), act, got.data());
                    std::ostringstream what;
                    what << "dense rows " << rows << " in " << in_c << " out " << out_c;
                    ASSERT_TRUE(all_near(want, got, 1e-4f, what.str()));
                }
}

TEST(ConcatAddAffineKernels, TbbMatchReference)
{
    std::mt19937 rng(53);
    for (std::size_t pixels : {1u, 63u, 5000u})
    {
        const int channels[3] = {1, 13, 64};
        std::vector<std::vector<float>> parts;
        std::vector<const float*> ptrs;
        for (int c : channels)
        {
            parts.push_back(random_values(pixels * c, rng));
            ptrs.push_back(parts.back().data());
        }
        auto want = nan_filled(pixels * 78);
        auto got = nan_filled(pixels * 78);
        concat_channels_ref(pixels, 3, ptrs.data(), channels, want.data());
        concat_channels_tbb(pixels, 3, ptrs.data(), channels, got.data());
        ASSERT_TRUE(all_near(want, got, 0.0f, "concat"));

        const auto a = random_values(pixels * 13, rng);
        const auto b = random_values(pixels * 13, rng);
        const float* ab[3] = {a.data(), b.data(), a.data()};
        want = nan_filled(pixels * 13);
        got = nan_filled(pixels * 13);
        add_ref(pixels * 13, 3, ab, want.data());
        add_tbb(pixels * 13, 3, ab, got.data());
        ASSERT_TRUE(all_near(want, got, 1e-6f, "add"));

        const auto scale = random_values(13, rng);
        const auto shift = random_values(13, rng);
        want = nan_filled(pixels * 13);
        got = nan_filled(pixels * 13);
        affine_ref(pixels, 13, a.data(), scale.data(), shift.data(), want.data());
        affine_tbb(pixels, 13, a.data(), scale.data(), shift.data(), got.data());
        ASSERT_TRUE(all_near(want, got, 1e-6f, "affine"));
    }
}

TEST(ActivationKernel, TbbMatchesReferenceAndKerasFormulas)
{
    std::mt19937 rng(54);
    const Activation acts[] = {{ActivationKind::relu},
                               {ActivationKind::relu, 0.5f, 0.1f, 0.2f},
                               {ActivationKind::sigmoid},
                               {ActivationKind::tanh},
                               {ActivationKind::softmax}};
    for (const Activation& act : acts)
        for (int c : {1, 3, 64})
        {
            const auto in = random_values(3000ull * c, rng);
            auto want = in;
            auto got = in;
            activation_ref(act, 3000, c, want.data());
            activation_tbb(act, 3000, c, got.data());
            ASSERT_TRUE(all_near(want, got, 1e-6f, "activation"));
        }
    // Keras ReLU(max_value=0.5, negative_slope=0.1, threshold=0.2).
    float v[4] = {-1.0f, 0.1f, 0.3f, 0.9f};
    activation_ref(acts[1], 4, 1, v);
    EXPECT_FLOAT_EQ(v[0], 0.1f * (-1.0f - 0.2f));
    EXPECT_FLOAT_EQ(v[1], 0.1f * (0.1f - 0.2f));
    EXPECT_FLOAT_EQ(v[2], 0.3f);
    EXPECT_FLOAT_EQ(v[3], 0.5f);
}

} // namespace
} // namespace atrous::infer::kernels
