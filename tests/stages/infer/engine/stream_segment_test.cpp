// SPDX-License-Identifier: Apache-2.0
// Purpose: stream segments (StreamExecutor::run(first_row, last_row, ...)): output row ranges
// computed on their own, each re-warming its layers from the input rows above it, concatenate to
// the whole pass's bytes (odd sizes, starts on and off the tile grid, 1-row segments, bf16
// Winograd), read only the input rows they need, and count their re-warm in the FLOPs.

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
#include <stdexcept>
#include <vector>

namespace atrous::infer
{
namespace
{

using test::random_tensor;

Model random_model(const ModelSpec& spec, unsigned seed, Precision precision = Precision::fp32)
{
    BuildOptions options;
    options.initialize_missing_weights = true;
    options.seed = seed;
    options.precision = precision;
    return Model(spec, options);
}

std::size_t row_floats(const Shape& s)
{
    return static_cast<std::size_t>(s.w) * s.c;
}

/// Runs output rows [first, last) of `stream` on `input` into the same rows of `result`; checks
/// that the rows come out once each, in order, and that only input rows inside the image are
/// read, each once. Returns the segment's stats.
StreamStats run_segment(const StreamExecutor& stream, const Tensor& input, int first, int last,
                        Tensor& result)
{
    const std::size_t in_row = row_floats(input.shape());
    const std::size_t out_row = row_floats(result.shape());
    int next_in = -1;
    int next_out = first;
    const StreamStats stats = stream.run(
        first, last,
        [&](int from, int, Tensor& rows)
        {
            EXPECT_GE(from, 0);
            EXPECT_LE(from + rows.shape().h, input.shape().h);
            if (next_in >= 0)
            {
                EXPECT_EQ(from, next_in); // contiguous, each input row once
            }
            next_in = from + rows.shape().h;
            std::memcpy(rows.data(), input.data() + from * in_row,
                        rows.shape().h * in_row * sizeof(float));
        },
        [&](int from, int, const Tensor& rows)
        {
            EXPECT_EQ(from, next_out);
            next_out += rows.shape().h;
            EXPECT_LE(next_out, last);
            std::memcpy(result.data() + from * out_row, rows.data(),
                        rows.shape().h * out_row * sizeof(float));
        });
    EXPECT_EQ(next_out, last) << "segment [" << first << ", " << last << ")";
    return stats;
}

/// Cuts the output rows at `cuts` (sorted, inside (0, height)), runs each segment on its own and
/// compares their concatenation with the whole pass: the same bytes (`bit_identical`) or within
/// 1e-4.
void expect_segments_concatenate(const Model& model, const Tensor& input, int band,
                                 const std::vector<int>& cuts, bool bit_identical = true)
{
    const StreamExecutor stream(model, input.shape(), band, KernelKind::fast, bit_identical);
    const Tensor whole = stream.run(input);
    Tensor joined(whole.shape());
    std::fill(joined.data(), joined.data() + joined.size(), std::nanf(""));
    std::vector<int> bounds{0};
    bounds.insert(bounds.end(), cuts.begin(), cuts.end());
    bounds.push_back(whole.shape().h);
    double flops = 0;
    for (std::size_t s = 0; s + 1 < bounds.size(); ++s)
    {
        SCOPED_TRACE(::testing::Message() << "band " << band << ", segment [" << bounds[s] << ", "
                                          << bounds[s + 1] << ")");
        const StreamStats stats = run_segment(stream, input, bounds[s], bounds[s + 1], joined);
        flops += stats.flops_computed;
        EXPECT_GT(stats.buffer_bytes, 0u);
    }
    if (bit_identical)
    {
        EXPECT_EQ(std::memcmp(joined.data(), whole.data(), whole.size() * sizeof(float)), 0)
            << "band " << band;
    }
    float worst = 0;
    for (std::size_t i = 0; i < whole.size(); ++i)
        worst = std::max(worst, std::abs(joined.data()[i] - whole.data()[i]));
    EXPECT_LE(worst, 1e-4f) << "band " << band; // NaN (a row never written) fails too
    // Each segment after the first re-warms: more FLOPs than one pass, never fewer.
    EXPECT_GE(flops, model.flops(input.shape()) * (1 - 1e-9));
}

TEST(StreamSegment, ChainOfEveryLayerKindAtOddSizes)
{
    // Dilations 1/2/4, 'valid', separable, depthwise, strided, pooling, upsampling, an even
    // kernel, strided transposes; sizes that are no multiple of anything.
    const Model model = random_model(test::chain_spec(), 7);
    for (const Shape shape : {Shape{1, 37, 29, 3}, Shape{1, 23, 41, 3}})
    {
        SCOPED_TRACE(::testing::Message() << shape);
        const Tensor input = random_tensor(shape, 3);
        const int h = StreamExecutor(model, shape, 4).run(input).shape().h;
        for (int band : {1, 4, 7, 24})
        {
            expect_segments_concatenate(model, input, band, {1, h / 3, h / 2 + 1, h - 1});
            expect_segments_concatenate(model, input, band, {5, 10, 15});
        }
    }
}

TEST(StreamSegment, SmallUnetAtOddSizes)
{
    for (bool with_add : {false, true})
    {
        SCOPED_TRACE(with_add ? "with Add" : "without Add");
        const Model model = random_model(test::small_unet_spec("segments", with_add), 3);
        const Tensor input = random_tensor(Shape{1, 42, 30, 2}, 4);
        for (int band : {2, 5, 16})
        {
            expect_segments_concatenate(model, input, band, {1, 2, 17, 40, 41});
            expect_segments_concatenate(model, input, band, {8, 16, 24, 32});
        }
    }
}

TEST(StreamSegment, SeedUnetStartsOnAndOffTheTileGrid)
{
    // 4..64 filters: the wider levels run Winograd (granule 4 rows at their scale), so a segment
    // start off the grid must round each layer's first row down to its tile rows.
    UnetArchitecture unet;
    unet.filters = 4;
    unet.in_channels = 1;
    const Model model = random_model(builtin_model_spec(unet), 11);
    const Tensor input = random_tensor(Shape{1, 80, 48, 1}, 12);
    expect_segments_concatenate(model, input, 16, {16, 48, 64});    // band- and stride-aligned
    expect_segments_concatenate(model, input, 16, {3, 29, 50, 77}); // odd starts
    expect_segments_concatenate(model, input, 8, {1, 2, 3, 79});    // 1-row segments
}

TEST(StreamSegment, Bf16WinogradSeedUnet)
{
    // bf16: F(2x2, 3x3) tiles, granule 2 x dilation; the seed U-Net's dilations reach 2 and 4.
    UnetArchitecture unet;
    unet.filters = 8;
    unet.in_channels = 1;
    const Model model = random_model(builtin_model_spec(unet), 13, Precision::bf16);
    const Tensor input = random_tensor(Shape{1, 96, 32, 1}, 14);
    expect_segments_concatenate(model, input, 16, {5, 33, 64, 95});
}

TEST(StreamSegment, FewestRowsPlanWithinRounding)
{
    const Model model = random_model(test::small_unet_spec("fewest", true), 5);
    expect_segments_concatenate(model, random_tensor(Shape{1, 38, 26, 2}, 6), 4, {9, 21}, false);
}

TEST(StreamSegment, ReadsOnlyTheRowsItNeeds)
{
    UnetArchitecture unet;
    unet.filters = 4;
    unet.in_channels = 1;
    const Model model = random_model(builtin_model_spec(unet), 17);
    const Shape shape{1, 2000, 32, 1};
    const Tensor input = random_tensor(shape, 18);
    const StreamExecutor stream(model, shape, 16);
    Tensor result(stream.run(input).shape());
    int lowest = shape.h;
    int highest = 0;
    const StreamStats stats = stream.run(
        800, 816,
        [&](int from, int, Tensor& rows)
        {
            lowest = std::min(lowest, from);
            highest = std::max(highest, from + rows.shape().h);
            std::memcpy(rows.data(), input.data() + from * row_floats(shape),
                        rows.size() * sizeof(float));
        },
        [](int, int, const Tensor&) {});
    // The re-warm reads back the receptive reach (the model's halo) plus each layer's rounding
    // down to its kernel tiles (Winograd at the deep levels: up to 16 rows there, x16 here), not
    // the image above; ahead, the encoder's lead, not the image below.
    const int halo = model.facts().halo_px;
    EXPECT_LT(lowest, 800 - halo / 2) << "halo " << halo;
    EXPECT_GT(lowest, 800 - 3 * halo) << "halo " << halo;
    EXPECT_LT(highest, shape.h) << lowest << " " << highest;
    EXPECT_GT(stats.flop_ratio(), 0.0);
    EXPECT_LT(stats.flop_ratio(), 1.0); // a part of the image, re-warm included
}

TEST(StreamSegment, RejectsRowsOutsideTheOutput)
{
    const Model model = random_model(test::small_unet_spec("bad", false), 7);
    const StreamExecutor stream(model, Shape{1, 20, 12, 2}, 4);
    const auto none = [](int, int, const Tensor&) {};
    const auto nothing = [](int, int, Tensor&) {};
    EXPECT_THROW(stream.run(-1, 4, nothing, none), std::invalid_argument);
    EXPECT_THROW(stream.run(4, 4, nothing, none), std::invalid_argument);
    EXPECT_THROW(stream.run(0, 21, nothing, none), std::invalid_argument);
}

} // namespace
} // namespace atrous::infer
