// SPDX-License-Identifier: Apache-2.0
// Purpose: window kernels run on a region of a wider buffer (the streaming executor's column
// regions of row buffers): pad_left = -d on an input d columns wider on the left (and pad_top = -d
// likewise), extra unread columns / rows on the right / bottom. Every kernel variant of
// kernels.def (and max pooling) must give bitwise the result of the same variant on the input
// cropped to the columns and rows it reads (pad 0 there); the cut-off columns and rows hold NaN,
// so a kernel that reads them at all (even times a zero weight or a discarded Winograd tap) fails.

#include "kernel_test_util.hpp"
#include "stages/infer/kernels/dispatch.hpp"
#include "stages/infer/kernels/kernels.hpp"

#include <gtest/gtest.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace atrous::infer::kernels
{
namespace
{

using test::all_near;
using test::nan_filled;
using test::random_values;
using test::VariantTest;

/// Runs a kernel on geometry `s`, input `in`, output `out`.
using RunFn = std::function<void(const Conv2dShape& s, const float* in, float* out)>;

/// A window: kh x kw = k x k, stride, dilation, channels; the spatial sizes and pads come from
/// the case.
struct Window
{
    int n = 1;
    int h = 9;
    int w = 11;
    int in_c = 1;
    int out_c = 1;
    int k = 3;
    int stride = 1;
    int dilation = 1;
};

/// Extra rows / columns around the cropped input that the wide run gets (and must not read).
struct Extra
{
    int top = 0;
    int bottom = 0;
    int left = 0;
    int right = 0;
    int channels = 0; // in_pixel_stride = in_c + channels when > 0 (the extra channels NaN)
};

/// The cropped geometry: zero padding where the wide run has no extra pixels (Keras-like,
/// (k_eff - 1) / 2 before, the rest after), none on a side where it has some (the wide run reads
/// real pixels there instead: before by a negative pad, after by reading no further than the
/// cropped run).
Conv2dShape cropped_shape(const Window& win, const Extra& e)
{
    Conv2dShape s;
    s.n = win.n;
    s.in_h = win.h;
    s.in_w = win.w;
    s.in_c = win.in_c;
    s.out_c = win.out_c;
    s.kh = s.kw = win.k;
    s.stride_h = s.stride_w = win.stride;
    s.dilation_h = s.dilation_w = win.dilation;
    const int k_eff = (win.k - 1) * win.dilation + 1;
    const auto axis = [&](int in, bool before, bool after, int& out, int& pad)
    {
        pad = before ? 0 : (k_eff - 1) / 2;
        const int pad_after = after ? 0 : k_eff - 1 - (k_eff - 1) / 2;
        const int span = in + pad + pad_after - k_eff;
        out = span >= 0 ? span / win.stride + 1 : 0;
    };
    axis(win.h, e.top > 0, e.bottom > 0, s.out_h, s.pad_top);
    axis(win.w, e.left > 0, e.right > 0, s.out_w, s.pad_left);
    return s;
}

/// `s` on an input with `e`'s extra pixels: in_h / in_w larger, pad_top / pad_left smaller.
Conv2dShape wide_shape(const Conv2dShape& s, const Extra& e)
{
    Conv2dShape w = s;
    w.in_h += e.top + e.bottom;
    w.in_w += e.left + e.right;
    w.pad_top -= e.top;
    w.pad_left -= e.left;
    if (e.channels > 0)
        w.in_pixel_stride = s.in_c + e.channels;
    return w;
}

/// `in` (dense, geometry `s`) placed inside a NaN-filled buffer of geometry `w`.
std::vector<float> widen(const Conv2dShape& s, const Conv2dShape& w, const Extra& e,
                         const std::vector<float>& in)
{
    const std::size_t ips = w.in_stride();
    std::vector<float> out(w.in_span(), std::numeric_limits<float>::quiet_NaN());
    for (int n = 0; n < s.n; ++n)
        for (int y = 0; y < s.in_h; ++y)
            for (int x = 0; x < s.in_w; ++x)
                for (int c = 0; c < s.in_c; ++c)
                    out[((static_cast<std::size_t>(n) * w.in_h + y + e.top) * w.in_w + x + e.left) *
                            ips +
                        c] =
                        in[((static_cast<std::size_t>(n) * s.in_h + y) * s.in_w + x) * s.in_c + c];
    return out;
}

/// Bitwise equality (a NaN left in either fails).
::testing::AssertionResult bitwise_equal(const std::vector<float>& want,
                                         const std::vector<float>& got, const std::string& what)
{
    if (want.size() != got.size())
        return ::testing::AssertionFailure()
               << what << ": size " << got.size() << " vs " << want.size();
    for (std::size_t i = 0; i < want.size(); ++i)
        if (want[i] != want[i] ||
            std::bit_cast<std::uint32_t>(want[i]) != std::bit_cast<std::uint32_t>(got[i]))
            return ::testing::AssertionFailure()
                   << what << ": index " << i << " got " << got[i] << " want " << want[i];
    return ::testing::AssertionSuccess();
}

/// The wide run (negative pads, NaN around) against the cropped run, bitwise.
::testing::AssertionResult wide_matches_cropped(const Window& win, const Extra& e, const RunFn& run,
                                                const std::string& name, std::mt19937& rng)
{
    const Conv2dShape s = cropped_shape(win, e);
    if (s.out_h <= 0 || s.out_w <= 0)
        return ::testing::AssertionSuccess();
    const Conv2dShape w = wide_shape(s, e);
    const auto in = random_values(s.in_size(), rng);
    const auto wide_in = widen(s, w, e, in);
    auto want = nan_filled(s.out_size());
    auto got = nan_filled(w.out_size());
    run(s, in.data(), want.data());
    run(w, wide_in.data(), got.data());
    std::ostringstream what;
    what << name << " extra t" << e.top << " b" << e.bottom << " l" << e.left << " r" << e.right
         << " c" << e.channels << " wide " << w << " vs cropped " << s;
    return bitwise_equal(want, got, what.str());
}

/// d in {0, 1, 2, 3, 5} on the left only (the right zero-padded), with unread columns on the
/// right, on the top only, with unread rows at the bottom, on every side (once with a pixel
/// stride too).
std::vector<Extra> extras()
{
    std::vector<Extra> out;
    for (int d : {0, 1, 2, 3, 5})
    {
        out.push_back({0, 0, d, 0, 0});
        out.push_back({0, 0, d, 3, 0});
        out.push_back({d, 0, 0, 0, 0});
        out.push_back({d, 2, 0, 0, 0});
        out.push_back({d, 1, d, 4, d == 3 ? 5 : 0});
    }
    return out;
}

/// Convolution windows covering every path of the conv2d variants: Winograd F(4x4, 3x3) and
/// F(3x3, 2x2) (>= 16 channels, stride 1, dilated too; bf16: even in_c), the direct GEMM (stride 2,
/// few channels, 5x5), the narrow path (<= 4 output channels, >= 8 input channels), 1x1
/// (pointwise when nothing is cropped), odd sizes and channel remainders.
std::vector<Window> conv_windows()
{
    return {
        {2, 9, 11, 20, 40, 3, 1, 1},  // Winograd 3x3
        {1, 9, 12, 32, 20, 3, 1, 1},  // Winograd 3x3: odd output widths (partial last tiles)
        {1, 10, 13, 16, 17, 3, 1, 2}, // Winograd 3x3 dilated
        {1, 9, 11, 16, 24, 2, 1, 1},  // Winograd 2x2
        {1, 9, 12, 18, 16, 2, 1, 2},  // Winograd 2x2 dilated
        {2, 9, 11, 13, 21, 3, 2, 1},  // direct, stride 2
        {1, 11, 13, 9, 19, 3, 2, 2},  // direct, stride 2, dilated
        {2, 7, 9, 3, 13, 3, 1, 1},    // direct, few channels
        {1, 9, 11, 5, 7, 5, 1, 1},    // direct 5x5
        {1, 9, 11, 24, 2, 3, 1, 2},   // narrow, dilated
        {1, 9, 10, 16, 3, 3, 2, 1},   // narrow, stride 2
        {1, 6, 13, 17, 33, 1, 1, 1},  // 1x1
        {2, 7, 9, 70, 4, 1, 1, 1},    // 1x1 narrow
        {1, 9, 11, 8, 5, 1, 2, 1},    // 1x1 stride 2
    };
}

class NegativePadConv : public VariantTest<Conv2dVariant>
{
};

TEST_P(NegativePadConv, WideEqualsCroppedBitwise)
{
    const Conv2dVariant& v = GetParam();
    std::mt19937 rng(61);
    for (const Window& win : conv_windows())
    {
        const Conv2dShape geometry = cropped_shape(win, Extra{});
        const auto w =
            random_values(static_cast<std::size_t>(win.k) * win.k * win.in_c * win.out_c, rng);
        const auto bias = random_values(win.out_c, rng);
        const PackedWeights packed = v.pack(geometry, w.data());
        const Activation relu{ActivationKind::relu};
        const RunFn run = [&](const Conv2dShape& s, const float* in, float* out)
        { v.run(s, in, packed.data(), bias.data(), relu, out); };
        for (const Extra& e : extras())
            ASSERT_TRUE(wide_matches_cropped(win, e, run, std::string(v.name), rng));
    }
}

/// The oracle of the kernels.def list `v` is in (conv2d_ref, conv2d_bf16_ref or
/// conv2d_bf16_wino_ref: the first entry of its list) and whether that list is a bf16 one.
std::pair<const Conv2dVariant*, bool> oracle_of(const Conv2dVariant& v)
{
    for (const auto list : {conv2d_bf16_variants(), conv2d_bf16_wino_variants()})
        for (const Conv2dVariant& entry : list)
            if (entry.run == v.run)
                return {&list.front(), true};
    return {&conv2d_variants().front(), false};
}

/// Any pad_left and pad_top (negative, with zero padding on the right or unread columns there)
/// against the variant's oracle on the same input (no NaN: the oracle reads what the shape says).
TEST_P(NegativePadConv, AnyPadMatchesReference)
{
    const Conv2dVariant& v = GetParam();
    const auto [oracle, bf16] = oracle_of(v);
    std::mt19937 rng(62);
    for (const Window& win : conv_windows())
        for (int pad_left : {-5, -2, -1, 0, 1})
            for (int pad_top : {-3, 0})
                for (int right : {-1, 0, 2}) // columns the last output reads past in_w
                {
                    Conv2dShape s = cropped_shape(win, Extra{});
                    const int k_eff = (win.k - 1) * win.dilation + 1;
                    s.in_w = win.w + 6;
                    s.in_h = win.h + 4;
                    s.pad_left = pad_left;
                    s.pad_top = pad_top;
                    s.out_w = (s.in_w + pad_left + right - k_eff) / win.stride + 1;
                    s.out_h = (s.in_h + pad_top - k_eff) / win.stride + 1;
                    const auto in = random_values(s.in_size(), rng);
                    const auto w = random_values(
                        static_cast<std::size_t>(win.k) * win.k * win.in_c * win.out_c, rng);
                    const auto bias = random_values(win.out_c, rng);
                    const Activation linear;
                    auto want = nan_filled(s.out_size());
                    auto got = nan_filled(s.out_size());
                    const PackedWeights oracle_packed = oracle->pack(s, w.data());
                    oracle->run(s, in.data(), oracle_packed.data(), bias.data(), linear,
                                want.data());
                    const PackedWeights packed = v.pack(s, w.data());
                    v.run(s, in.data(), packed.data(), bias.data(), linear, got.data());
                    std::ostringstream what;
                    what << v.name << " vs " << oracle->name << " " << s;
                    ASSERT_TRUE(all_near(want, got, bf16 ? 1e-3f : 2e-4f, what.str()));
                }
}

INSTANTIATE_TEST_SUITE_P(Fp32, NegativePadConv,
                         ::testing::ValuesIn(conv2d_variants().begin(), conv2d_variants().end()),
                         [](const ::testing::TestParamInfo<Conv2dVariant>& param)
                         { return std::string(param.param.name); });
INSTANTIATE_TEST_SUITE_P(Bf16, NegativePadConv,
                         ::testing::ValuesIn(conv2d_bf16_variants().begin(),
                                             conv2d_bf16_variants().end()),
                         [](const ::testing::TestParamInfo<Conv2dVariant>& param)
                         { return std::string(param.param.name); });
INSTANTIATE_TEST_SUITE_P(Bf16Wino, NegativePadConv,
                         ::testing::ValuesIn(conv2d_bf16_wino_variants().begin(),
                                             conv2d_bf16_wino_variants().end()),
                         [](const ::testing::TestParamInfo<Conv2dVariant>& param)
                         { return std::string(param.param.name); });

/// Depthwise / separable windows (in_c = channels; out_c set by the test): the SIMD tiles'
/// interior and border columns, stride 2, dilation 2, channel remainders.
std::vector<Window> depthwise_windows()
{
    return {
        {2, 9, 11, 5, 5, 3, 1, 1},   {1, 9, 23, 16, 16, 3, 1, 1}, {1, 11, 13, 37, 37, 3, 2, 2},
        {1, 9, 12, 20, 20, 3, 2, 1}, {1, 8, 10, 16, 16, 2, 1, 1}, {1, 9, 21, 24, 24, 5, 1, 2},
        {2, 7, 9, 8, 8, 1, 1, 1},
    };
}

class NegativePadDepthwise : public VariantTest<DepthwiseVariant>
{
};

TEST_P(NegativePadDepthwise, WideEqualsCroppedBitwise)
{
    const DepthwiseVariant& v = GetParam();
    std::mt19937 rng(63);
    for (int dm : {1, 2})
        for (Window win : depthwise_windows())
        {
            win.out_c = win.in_c * dm;
            const auto w = random_values(static_cast<std::size_t>(win.k) * win.k * win.out_c, rng);
            const auto bias = random_values(win.out_c, rng);
            const Activation relu{ActivationKind::relu};
            const RunFn run = [&](const Conv2dShape& s, const float* in, float* out)
            { v.run(s, in, w.data(), bias.data(), relu, out); };
            for (const Extra& e : extras())
                ASSERT_TRUE(wide_matches_cropped(
                    win, e, run, "depthwise_" + std::string(v.name) + " dm " + std::to_string(dm),
                    rng));
        }
}

INSTANTIATE_TEST_SUITE_P(KernelsDef, NegativePadDepthwise,
                         ::testing::ValuesIn(depthwise_variants().begin(),
                                             depthwise_variants().end()),
                         [](const ::testing::TestParamInfo<DepthwiseVariant>& param)
                         { return std::string(param.param.name); });

class NegativePadSeparable : public VariantTest<SeparableVariant>
{
};

TEST_P(NegativePadSeparable, WideEqualsCroppedBitwise)
{
    const SeparableVariant& v = GetParam();
    std::mt19937 rng(64);
    std::vector<std::pair<Window, int>> cases; // (window with out_c = filters, depth multiplier)
    for (const Window& base : depthwise_windows())
    {
        Window win = base;
        win.out_c = 13;
        cases.emplace_back(win, 1);
    }
    cases.emplace_back(Window{1, 40, 40, 24, 32, 3, 1, 1}, 1); // bands: the fused path
    cases.emplace_back(Window{1, 33, 30, 37, 50, 3, 1, 2}, 1); // fused, dilated, remainders
    cases.emplace_back(Window{1, 9, 11, 6, 20, 3, 1, 1}, 2);   // depth multiplier 2
    for (int threads : {1, 2})
        for (const auto& [win, multiplier] : cases)
        {
            const int dm = multiplier; // clang 14 cannot capture a structured binding
            const int mid = win.in_c * dm;
            const auto dw = random_values(static_cast<std::size_t>(win.k) * win.k * mid, rng);
            const auto pw = random_values(static_cast<std::size_t>(mid) * win.out_c, rng);
            const auto bias = random_values(win.out_c, rng);
            const PackedWeights packed = v.pack(cropped_shape(win, Extra{}), dm, pw.data());
            const Activation relu{ActivationKind::relu};
            oneapi::tbb::task_arena arena(threads);
            const RunFn run = [&](const Conv2dShape& s, const float* in, float* out) {
                arena.execute(
                    [&] { v.run(s, dm, in, dw.data(), packed.data(), bias.data(), relu, out); });
            };
            for (const Extra& e : extras())
                ASSERT_TRUE(wide_matches_cropped(win, e, run,
                                                 "separable_" + std::string(v.name) + " dm " +
                                                     std::to_string(dm) + " threads " +
                                                     std::to_string(threads),
                                                 rng));
        }
}

INSTANTIATE_TEST_SUITE_P(KernelsDef, NegativePadSeparable,
                         ::testing::ValuesIn(separable_variants().begin(),
                                             separable_variants().end()),
                         [](const ::testing::TestParamInfo<SeparableVariant>& param)
                         { return std::string(param.param.name); });

TEST(NegativePadMaxPool, WideEqualsCroppedBitwise)
{
    std::mt19937 rng(65);
    const std::pair<std::string, RunFn> kernels[] = {
        {"max_pool_ref",
         [](const Conv2dShape& s, const float* in, float* out) { max_pool2d_ref(s, in, out); }},
        {"max_pool_tbb",
         [](const Conv2dShape& s, const float* in, float* out) { max_pool2d_tbb(s, in, out); }}};
    for (const auto& [name, run] : kernels)
        for (const Window& win :
             {Window{2, 9, 11, 13, 13, 2, 2, 1}, Window{1, 8, 10, 40, 40, 2, 2, 1},
              Window{1, 7, 9, 40, 40, 3, 1, 1}, Window{2, 9, 11, 5, 5, 3, 1, 1}})
            for (const Extra& e : extras())
                ASSERT_TRUE(wide_matches_cropped(win, e, run, name, rng));
}

} // namespace
} // namespace atrous::infer::kernels
