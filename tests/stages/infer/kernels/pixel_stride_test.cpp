// SPDX-License-Identifier: Apache-2.0
// Purpose: Conv2dShape's in_pixel_stride / out_pixel_stride in every kernel that honours them: a
// strided run (input read from, output written into a channel slice of wider pixels) equals the
// dense run scattered, the other input channels are never read (they hold NaN) and the other
// output channels keep their sentinel.

#include "kernel_test_util.hpp"
#include "stages/infer/kernels/dispatch.hpp"
#include "stages/infer/kernels/kernels.hpp"
#include "tests/support/conv_shape.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <sstream>

namespace atrous::infer::kernels
{
namespace
{

using test::random_values;
using test::VariantTest;

constexpr float k_sentinel = 12345.0f;

/// Runs a kernel on `s` (its strides set by the caller) with input `in` and output `out`.
using RunFn = std::function<void(const Conv2dShape& s, const float* in, float* out)>;

/// Same-padded geometry of a k x k window with stride and dilation.
Conv2dShape same_shape(int n, int h, int w, int in_c, int out_c, int k, int stride, int dilation)
{
    return test::keras_conv_shape(n, h, w, in_c, out_c, k, dilation, stride, true);
}

/// The strided run against the dense one: the input's `in_c` channels sit at `in_off` of pixels
/// `in_extra` floats wider than in_c (the rest NaN), the output's at `out_off` of pixels
/// `out_extra` wider than out_c (the rest the sentinel).
::testing::AssertionResult strided_matches_dense(const Conv2dShape& dense, int in_extra, int in_off,
                                                 int out_extra, int out_off, const RunFn& run,
                                                 const std::string& name, std::mt19937& rng)
{
    const std::size_t in_px = static_cast<std::size_t>(dense.n) * dense.in_h * dense.in_w;
    const std::size_t out_px = static_cast<std::size_t>(dense.n) * dense.out_h * dense.out_w;
    const auto in = random_values(dense.in_size(), rng);
    auto want = test::nan_filled(dense.out_size());
    run(dense, in.data(), want.data());

    Conv2dShape s = dense;
    s.in_pixel_stride = in_extra > 0 ? dense.in_c + in_extra : 0;
    s.out_pixel_stride = out_extra > 0 ? dense.out_c + out_extra : 0;
    const int ips = s.in_stride();
    const int ops = s.out_stride();
    std::vector<float> wide_in(in_px * ips, std::numeric_limits<float>::quiet_NaN());
    for (std::size_t p = 0; p < in_px; ++p)
        for (int c = 0; c < dense.in_c; ++c)
            wide_in[p * ips + in_off + c] = in[p * dense.in_c + c];
    std::vector<float> wide_out(out_px * ops, k_sentinel);
    run(s, wide_in.data() + in_off, wide_out.data() + out_off);

    std::ostringstream what;
    what << name << " " << s << " in_off " << in_off << " out_off " << out_off;
    for (std::size_t p = 0; p < out_px; ++p)
        for (int c = 0; c < ops; ++c)
        {
            const float got = wide_out[p * ops + c];
            const bool inside = c >= out_off && c < out_off + dense.out_c;
            if (!inside && got != k_sentinel)
                return ::testing::AssertionFailure()
                       << what.str() << ": pixel " << p << " channel " << c
                       << " outside the slice was overwritten with " << got;
            if (inside)
            {
                const float expected = want[p * dense.out_c + (c - out_off)];
                if (!(std::fabs(got - expected) <= 1e-5f * (1.0f + std::fabs(expected))))
                    return ::testing::AssertionFailure()
                           << what.str() << ": pixel " << p << " channel " << c - out_off << " got "
                           << got << " want " << expected;
            }
        }
    return ::testing::AssertionSuccess();
}

/// Shapes covering each kernel family's code paths: 1x1 (pointwise), small-channel direct 3x3,
/// Winograd 3x3 and 2x2 (>= 16 channels, dilated too), stride 2, channel remainders.
std::vector<Conv2dShape> conv_shapes()
{
    return {same_shape(2, 7, 9, 5, 3, 1, 1, 1),    same_shape(1, 6, 13, 17, 33, 1, 1, 1),
            same_shape(2, 7, 9, 3, 13, 3, 1, 1),   same_shape(1, 10, 11, 20, 40, 3, 1, 1),
            same_shape(1, 9, 10, 24, 18, 3, 1, 2), same_shape(1, 8, 9, 16, 17, 2, 1, 1),
            same_shape(2, 9, 11, 13, 21, 3, 2, 1), same_shape(1, 5, 5, 40, 70, 3, 1, 1),
            same_shape(2, 9, 11, 24, 2, 3, 1, 2),  same_shape(1, 6, 7, 70, 4, 1, 1, 1)};
}

/// (in_extra, in_off, out_extra, out_off): input strided, output strided, both.
constexpr int k_layouts[][4] = {{5, 2, 0, 0}, {0, 0, 7, 3}, {9, 4, 6, 6}, {16, 0, 32, 32}};

class Conv2dVariantStrides : public VariantTest<Conv2dVariant>
{
};

TEST_P(Conv2dVariantStrides, StridedEqualsDenseScattered)
{
    const Conv2dVariant& v = GetParam();
    std::mt19937 rng(7);
    for (const Conv2dShape& shape : conv_shapes())
    {
        const auto w = random_values(
            static_cast<std::size_t>(shape.kh) * shape.kw * shape.in_c * shape.out_c, rng);
        const auto bias = random_values(shape.out_c, rng);
        const PackedWeights packed = v.pack(shape, w.data());
        for (const Activation act :
             {Activation{ActivationKind::relu}, Activation{ActivationKind::softmax}})
        {
            const RunFn run = [&](const Conv2dShape& s, const float* in, float* out)
            { v.run(s, in, packed.data(), bias.data(), act, out); };
            for (const auto& l : k_layouts)
                ASSERT_TRUE(strided_matches_dense(shape, l[0], l[1], l[2], l[3], run,
                                                  "conv2d_" + std::string(v.name), rng));
        }
    }
}

INSTANTIATE_TEST_SUITE_P(KernelsDef, Conv2dVariantStrides,
                         ::testing::ValuesIn(conv2d_variants().begin(), conv2d_variants().end()),
                         [](const ::testing::TestParamInfo<Conv2dVariant>& param)
                         { return std::string(param.param.name); });

TEST(PixelStrides, DenseStrideIsChannels)
{
    Conv2dShape s = same_shape(1, 4, 5, 3, 7, 3, 1, 1);
    EXPECT_EQ(s.in_stride(), 3);
    EXPECT_EQ(s.out_stride(), 7);
    EXPECT_EQ(s.in_span(), s.in_size());
    EXPECT_EQ(s.out_span(), s.out_size());
    s.in_pixel_stride = 10;
    s.out_pixel_stride = 20;
    EXPECT_EQ(s.in_stride(), 10);
    EXPECT_EQ(s.out_stride(), 20);
    EXPECT_EQ(s.in_span(), 19u * 10 + 3);
    EXPECT_EQ(s.out_span(), 19u * 20 + 7);
}

/// Depthwise shapes (dm 1 and 2; 3x3 any dilation and stride; channel remainders).
std::vector<std::pair<Conv2dShape, int>> depthwise_shapes()
{
    std::vector<std::pair<Conv2dShape, int>> out;
    for (int dm : {1, 2})
        for (const Conv2dShape& base :
             {same_shape(2, 7, 9, 5, 5, 3, 1, 1), same_shape(1, 9, 11, 37, 37, 3, 1, 2),
              same_shape(1, 9, 12, 20, 20, 3, 2, 1), same_shape(1, 6, 6, 16, 16, 2, 1, 1)})
        {
            Conv2dShape s = base;
            s.out_c = s.in_c * dm;
            out.emplace_back(s, dm);
        }
    return out;
}

TEST(PixelStrides, DepthwiseStridedEqualsDenseScattered)
{
    std::mt19937 rng(8);
    for (const auto& [shape, dm] : depthwise_shapes())
    {
        const auto w =
            random_values(static_cast<std::size_t>(shape.kh) * shape.kw * shape.out_c, rng);
        const auto bias = random_values(shape.out_c, rng);
        const Activation relu{ActivationKind::relu};
        const RunFn ref = [&](const Conv2dShape& s, const float* in, float* out)
        { depthwise_conv2d_ref(s, in, w.data(), bias.data(), relu, out); };
        const RunFn tbb = [&](const Conv2dShape& s, const float* in, float* out)
        { depthwise_conv2d_tbb(s, in, w.data(), bias.data(), relu, out); };
        for (const auto& l : k_layouts)
        {
            ASSERT_TRUE(
                strided_matches_dense(shape, l[0], l[1], l[2], l[3], ref, "depthwise_ref", rng));
            ASSERT_TRUE(
                strided_matches_dense(shape, l[0], l[1], l[2], l[3], tbb, "depthwise_tbb", rng));
        }
    }
}

TEST(PixelStrides, MaxPoolStridedEqualsDenseScattered)
{
    std::mt19937 rng(9);
    for (Conv2dShape s :
         {same_shape(2, 8, 9, 13, 13, 2, 2, 1), same_shape(1, 7, 7, 40, 40, 3, 1, 1)})
    {
        const RunFn ref = [](const Conv2dShape& sh, const float* in, float* out)
        { max_pool2d_ref(sh, in, out); };
        const RunFn tbb = [](const Conv2dShape& sh, const float* in, float* out)
        { max_pool2d_tbb(sh, in, out); };
        for (const auto& l : k_layouts)
        {
            ASSERT_TRUE(strided_matches_dense(s, l[0], l[1], l[2], l[3], ref, "max_pool_ref", rng));
            ASSERT_TRUE(strided_matches_dense(s, l[0], l[1], l[2], l[3], tbb, "max_pool_tbb", rng));
        }
    }
}

TEST(PixelStrides, TransposeStridedEqualsDenseScattered)
{
    std::mt19937 rng(10);
    Conv2dShape s;
    s.n = 2;
    s.in_h = 5;
    s.in_w = 6;
    s.in_c = 9;
    s.out_c = 11;
    s.kh = s.kw = 3;
    s.stride_h = s.stride_w = 2;
    s.out_h = 10;
    s.out_w = 12;
    s.pad_top = s.pad_left = 1;
    const auto w = random_values(static_cast<std::size_t>(9) * s.in_c * s.out_c, rng);
    const auto bias = random_values(s.out_c, rng);
    const Activation relu{ActivationKind::relu};
    const RunFn ref = [&](const Conv2dShape& sh, const float* in, float* out)
    { conv2d_transpose_ref(sh, in, w.data(), bias.data(), relu, out); };
    const RunFn tbb = [&](const Conv2dShape& sh, const float* in, float* out)
    { conv2d_transpose_tbb(sh, in, w.data(), bias.data(), relu, out); };
    for (const auto& l : k_layouts)
    {
        ASSERT_TRUE(strided_matches_dense(s, l[0], l[1], l[2], l[3], ref, "transpose_ref", rng));
        ASSERT_TRUE(strided_matches_dense(s, l[0], l[1], l[2], l[3], tbb, "transpose_tbb", rng));
    }
}

} // namespace
} // namespace atrous::infer::kernels
