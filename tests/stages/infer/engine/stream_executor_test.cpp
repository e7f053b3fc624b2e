// SPDX-License-Identifier: Apache-2.0
// Purpose: the streaming executor computes what one whole-image Model::forward computes (borders,
// odd sizes, band heights that do and do not divide the image, every streamable layer kind), the
// same bytes for every band height, each row once (FLOP ratio), and refuses what it cannot stream.

#include "stages/error.hpp"
#include "stages/infer/engine/model.hpp"
#include "stages/infer/engine/stream_executor.hpp"
#include "stages/infer/import/architecture.hpp"
#include "tests/support/random_tensor.hpp"
#include "tests/support/spec_builder.hpp"
#include "tests/support/stream_chain_spec.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace atrous::infer
{
namespace
{

using test::chain_spec;
using test::random_tensor;
using test::SpecBuilder;

Model random_model(const ModelSpec& spec, unsigned seed = 7)
{
    BuildOptions options;
    options.initialize_missing_weights = true;
    options.seed = seed;
    return Model(spec, options);
}

float max_abs_diff(const Tensor& a, const Tensor& b)
{
    EXPECT_EQ(a.shape(), b.shape());
    float worst = 0;
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
        worst = std::max(worst, std::abs(a.data()[i] - b.data()[i]));
    return worst;
}

bool same_bytes(const Tensor& a, const Tensor& b)
{
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

/// Streams `input` with each band height and strip width (0: the whole width) and checks each
/// against the whole-image forward (<= 1e-4; with `bit_identical` the same bytes, as every band
/// height and strip width gives).
void expect_streams_exactly(const Model& model, const Tensor& input, const std::vector<int>& bands,
                            KernelKind kernels = KernelKind::fast, bool bit_identical = true,
                            const std::vector<int>& strips = {0})
{
    ForwardOptions options;
    options.kernels = kernels;
    const Tensor whole = model.forward(input, options);
    Tensor first;
    for (int band : bands)
        for (int strip : strips)
        {
            SCOPED_TRACE("band " + std::to_string(band) + ", strip " + std::to_string(strip));
            const StreamExecutor stream(model, input.shape(), band, kernels, true, strip);
            StreamStats stats;
            const Tensor streamed = stream.run(input, &stats);
            EXPECT_LE(max_abs_diff(streamed, whole), 1e-4f);
            // Bands start where the whole image's kernel tiles start: the same sums, same order.
            if (bit_identical)
            {
                EXPECT_TRUE(same_bytes(streamed, whole))
                    << "max diff " << max_abs_diff(streamed, whole);
            }
            if (strip == 0)
            {
                EXPECT_LE(stats.flop_ratio(), 1.10);
            }
            EXPECT_GT(stats.buffer_bytes, 0u);
            if (first.size() == 0)
                first = streamed;
            else if (bit_identical)
            {
                EXPECT_TRUE(same_bytes(streamed, first));
            }
        }
}

TEST(StreamExecutor, ChainOfEveryLayerKindAtOddSizes)
{
    const Model model = random_model(chain_spec());
    for (const Shape shape : {Shape{1, 37, 29, 3}, Shape{1, 23, 41, 3}})
    {
        SCOPED_TRACE(::testing::Message() << shape);
        expect_streams_exactly(model, random_tensor(shape, 3), {1, 4, 7, 16, 24, 200});
    }
}

TEST(StreamExecutor, ChainWithReferenceKernels)
{
    const Model model = random_model(chain_spec());
    expect_streams_exactly(model, random_tensor(Shape{1, 19, 13, 3}, 5), {2, 5},
                           KernelKind::reference);
}

TEST(StreamExecutor, SmallUnetWithSkipAndAdd)
{
    for (bool with_add : {false, true})
    {
        SCOPED_TRACE(with_add ? "with Add" : "without Add");
        const Model model = random_model(test::small_unet_spec("stream_unet", with_add));
        expect_streams_exactly(model, random_tensor(Shape{1, 42, 30, 2}, 9), {2, 4, 6, 16, 64});
    }
}

TEST(StreamExecutor, SeedUnetAtReducedWidth)
{
    UnetArchitecture unet;
    unet.filters = 4; // 4..64 filters: the wider levels run the Winograd kernels
    unet.in_channels = 1;
    const Model model = random_model(builtin_model_spec(unet), 11);
    const Tensor input = random_tensor(Shape{1, 80, 48, 1}, 12);
    expect_streams_exactly(model, input, {16, 32, 48});
    const StreamExecutor stream(model, input.shape(), 16);
    StreamStats stats;
    stream.run(input, &stats);
    EXPECT_DOUBLE_EQ(stats.flop_ratio(), 1.0); // every row of every layer computed once
    EXPECT_EQ(stats.flops_whole, model.flops(input.shape()));
}

TEST(StreamExecutor, Bf16WinogradBandsKeepTheTileGrid)
{
    // bf16: F(2x2, 3x3) / F(2x2, 2x2) tiles (RowMap granule 2 x dilation) on the levels where
    // crops keep the tile grid, the bf16 GEMM elsewhere; any band height gives the same bytes
    // (a band starting mid-tile would round differently). Fast and reference kernels.
    for (const ModelSpec& spec : {chain_spec(), ModelSpec{}})
    {
        BuildOptions options;
        options.initialize_missing_weights = true;
        options.seed = 13;
        options.precision = Precision::bf16;
        UnetArchitecture unet;
        unet.filters = 8; // 8..128 filters: Winograd from 16 channels up
        unet.in_channels = 1;
        const bool chain = !spec.layers.empty();
        const Model model(chain ? spec : builtin_model_spec(unet), options);
        const Tensor input = random_tensor(chain ? Shape{1, 37, 29, 3} : Shape{1, 80, 48, 1}, 14);
        const auto rows = model.describe(input.shape());
        EXPECT_TRUE(std::any_of(rows.begin(), rows.end(),
                                [](const LayerInfo& r)
                                { return r.class_name.find("bf16 wino") != std::string::npos; }));
        for (KernelKind kernels : {KernelKind::fast, KernelKind::reference})
            expect_streams_exactly(
                model, input, chain ? std::vector<int>{1, 4, 7, 24} : std::vector<int>{16, 32, 48},
                kernels);
    }
}

TEST(StreamExecutor, FewestRowsWithinRounding)
{
    // Without tile alignment the bands are where the output asks: fewer buffered rows, the same
    // values up to float rounding.
    UnetArchitecture unet;
    unet.filters = 8;
    const Model model = random_model(builtin_model_spec(unet), 15);
    const Shape shape{1, 160, 32, 1};
    const Tensor input = random_tensor(shape, 16);
    const Tensor whole = model.forward(input);
    const StreamExecutor aligned(model, shape, 16);
    const StreamExecutor fewest(model, shape, 16, KernelKind::fast, false);
    EXPECT_LT(fewest.plan().buffer_bytes(), aligned.plan().buffer_bytes());
    EXPECT_LE(max_abs_diff(fewest.run(input), whole), 1e-4f);
    EXPECT_TRUE(same_bytes(aligned.run(input), whole));
}

TEST(StreamExecutor, SeparableSeedUnet)
{
    UnetArchitecture unet;
    unet.filters = 4;
    unet.depth = 3;
    unet.dilation = {1, 2, 4};
    unet.separable = true;
    const Model model = random_model(builtin_model_spec(unet), 13);
    // The SIMD separable kernel fuses its two steps only on calls with enough rows, and the two
    // paths round differently: a band and the whole image may differ in the last bit.
    expect_streams_exactly(model, random_tensor(Shape{1, 36, 20, 1}, 14), {4, 12}, KernelKind::fast,
                           false);
}

TEST(StreamExecutor, RowsGoOutTopToBottomOnce)
{
    const Model model = random_model(test::small_unet_spec("rows", false));
    const Shape shape{1, 302, 22, 2};
    const Tensor input = random_tensor(shape, 2);
    const StreamExecutor stream(model, shape, 4);
    int next_in = 0;
    int next_out = 0;
    stream.run(
        [&](int first, int first_col, Tensor& rows)
        {
            EXPECT_EQ(first, next_in);
            EXPECT_EQ(first_col, 0);
            next_in += rows.shape().h;
            std::memcpy(rows.data(), input.data() + static_cast<std::size_t>(first) * 22 * 2,
                        rows.size() * sizeof(float));
        },
        [&](int first, int first_col, const Tensor& rows)
        {
            EXPECT_EQ(first, next_out);
            EXPECT_EQ(first_col, 0);
            next_out += rows.shape().h;
        });
    EXPECT_NE(stream.plan().summary().find("stream: band 4 rows, "), std::string::npos)
        << stream.plan().summary();
    EXPECT_EQ(next_in, 302);
    EXPECT_EQ(next_out, 302);
    // Buffers hold a few dozen rows per layer, not the image.
    EXPECT_LT(stream.plan().buffer_bytes() * 4, model.activation_memory(shape).arena_bytes);
}

TEST(StreamExecutor, ClassifierIsNotStreamable)
{
    const Model model = random_model(builtin_model_spec(ClassifierArchitecture{}));
    const std::string why = StreamPlan::blocker(model);
    EXPECT_NE(why.find("Flatten"), std::string::npos) << why;
    try
    {
        StreamExecutor stream(model, Shape{1, 28, 28, 1}, 4);
        FAIL() << "no error";
    }
    catch (const ModelError& e)
    {
        EXPECT_NE(std::string(e.what()).find("not streamable: Flatten"), std::string::npos)
            << e.what();
    }
}

} // namespace
} // namespace atrous::infer

namespace atrous::infer
{
namespace
{

// Vertical strips: each layer computes only the columns of its region (skipping the columns of a
// wider input through a negative left padding, cutting rowwise and upsampling inputs to the
// region); the result is the whole-image pass's, bit for bit, for every strip width.
TEST(StreamStrips, ChainOfEveryLayerKindAtOddSizes)
{
    const Model model = random_model(chain_spec());
    for (const Shape shape : {Shape{1, 37, 29, 3}, Shape{1, 23, 41, 3}})
    {
        SCOPED_TRACE(::testing::Message() << shape);
        expect_streams_exactly(model, random_tensor(shape, 3), {4, 7}, KernelKind::fast, true,
                               {1, 5, 8, 13, 40});
    }
}

TEST(StreamStrips, ChainWithReferenceKernels)
{
    const Model model = random_model(chain_spec());
    expect_streams_exactly(model, random_tensor(Shape{1, 19, 13, 3}, 5), {5}, KernelKind::reference,
                           true, {3, 6});
}

TEST(StreamStrips, SmallUnetWithSkipAndAdd)
{
    for (bool with_add : {false, true})
    {
        SCOPED_TRACE(with_add ? "with Add" : "without Add");
        const Model model = random_model(test::small_unet_spec("stream_unet", with_add));
        expect_streams_exactly(model, random_tensor(Shape{1, 42, 30, 2}, 9), {4, 16},
                               KernelKind::fast, true, {4, 8, 11, 16});
    }
}

TEST(StreamStrips, SeedUnetAtReducedWidth)
{
    UnetArchitecture unet;
    unet.filters = 4;
    unet.in_channels = 1;
    const Model model = random_model(builtin_model_spec(unet), 11);
    const Tensor input = random_tensor(Shape{1, 64, 208, 1}, 12);
    expect_streams_exactly(model, input, {16}, KernelKind::fast, true, {16, 48, 64, 100, 200});
    // Strips recompute the columns their regions share (at most a receptive reach each side),
    // and bound the buffers by the strip, not the image.
    const StreamExecutor whole(model, input.shape(), 16);
    const StreamExecutor strips(model, input.shape(), 16, KernelKind::fast, true, 48);
    StreamStats stats;
    strips.run(input, &stats);
    EXPECT_GT(stats.flop_ratio(), 1.0);
    // The plan's ratio is the one the strips compute (rows: each once).
    EXPECT_NEAR(strips.plan().strips_flop_ratio(), stats.flop_ratio(), 1e-9);
    EXPECT_DOUBLE_EQ(whole.plan().strips_flop_ratio(), 1.0);
    EXPECT_LT(strips.plan().buffer_bytes(), whole.plan().buffer_bytes());
    EXPECT_NE(strips.plan().summary().find("5 strips of 48 px"), std::string::npos)
        << strips.plan().summary();
}

} // namespace
} // namespace atrous::infer
