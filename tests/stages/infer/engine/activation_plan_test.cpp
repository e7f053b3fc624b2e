// SPDX-License-Identifier: Apache-2.0
// Purpose: the activation planner: greedy placement and the live-bytes bound on hand-made
// intervals, block lifetimes and in-place Concatenate slices on small graphs whose numbers are
// worked out by hand below.

#include "stages/infer/engine/activation_plan.hpp"
#include "stages/infer/engine/graph.hpp"
#include "tests/support/spec_builder.hpp"

#include <gtest/gtest.h>

#include <random>

namespace atrous::infer
{
namespace
{

using test::SpecBuilder;

ArenaBlock block(std::size_t bytes, int first, int last)
{
    ArenaBlock b;
    b.bytes = bytes;
    b.first = first;
    b.last = last;
    return b;
}

/// No two blocks live at a common step share a byte.
void expect_disjoint(const std::vector<ArenaBlock>& blocks, std::size_t arena)
{
    for (std::size_t i = 0; i < blocks.size(); ++i)
    {
        EXPECT_LE(blocks[i].offset + blocks[i].bytes, arena);
        EXPECT_EQ(blocks[i].offset % k_arena_alignment, 0u);
        for (std::size_t j = i + 1; j < blocks.size(); ++j)
        {
            const ArenaBlock& a = blocks[i];
            const ArenaBlock& b = blocks[j];
            const bool same_time = a.first <= b.last && b.first <= a.last;
            const bool same_bytes = a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes;
            EXPECT_FALSE(same_time && same_bytes) << "blocks " << i << " and " << j;
        }
    }
}

TEST(ActivationPlan, PlacesLargestFirstIntoTheBestFittingGap)
{
    // A [0,1] 256 B, B [1,3] 128 B, C [2,3] 64 B, D [3,4] 64 B, E [4,5] 192 B.
    // Order: A (0), E (conflicts only D, not placed yet: 0), B (conflicts A: 256),
    // C (conflicts B at 256..384: gap 0..256 -> 0), D (conflicts B 256..384, C 0..64, E 0..192:
    // the gap 192..256 fits exactly -> 192).
    std::vector<ArenaBlock> blocks{block(256, 0, 1), block(128, 1, 3), block(64, 2, 3),
                                   block(64, 3, 4), block(192, 4, 5)};
    const std::size_t arena = place_blocks(blocks);
    EXPECT_EQ(blocks[0].offset, 0u);
    EXPECT_EQ(blocks[4].offset, 0u);
    EXPECT_EQ(blocks[1].offset, 256u);
    EXPECT_EQ(blocks[2].offset, 0u);
    EXPECT_EQ(blocks[3].offset, 192u);
    EXPECT_EQ(arena, 384u);
    // Live bytes: step 0: 256, 1: 384, 2: 192, 3: 256, 4: 256, 5: 192.
    EXPECT_EQ(live_bytes_bound(blocks), 384u);
    expect_disjoint(blocks, arena);
}

TEST(ActivationPlan, RandomIntervalsNeverOverlapAndNeverBeatTheBound)
{
    std::mt19937 rng(11);
    for (int trial = 0; trial < 50; ++trial)
    {
        std::vector<ArenaBlock> blocks;
        const int count = 1 + static_cast<int>(rng() % 30);
        for (int i = 0; i < count; ++i)
        {
            const int first = static_cast<int>(rng() % 40);
            blocks.push_back(block(64 * (1 + rng() % 16), first, first + rng() % 8));
        }
        const std::size_t arena = place_blocks(blocks);
        expect_disjoint(blocks, arena);
        EXPECT_GE(arena, live_bytes_bound(blocks));
    }
    std::vector<ArenaBlock> none;
    EXPECT_EQ(place_blocks(none), 0u);
    EXPECT_EQ(live_bytes_bound(none), 0u);
}

/// input -> c1 -> c2 -> pool -> c3 -> drop -> up -> c4 -> cat(c2, c4) -> c5 -> out, 4 filters,
/// on 1x8x8x1: node i runs at step i.
Graph small_unet_graph()
{
    SpecBuilder b("plan_unet");
    b.input("input", {nullptr, nullptr, nullptr, 1});
    b.conv("c1", "input", 4, 3);                                    // 1: 8x8x4 = 1024 B
    b.conv("c2", "c1", 4, 3);                                       // 2: 8x8x4 = 1024 B
    b.add("pool", "MaxPooling2D", {{"pool_size", {2, 2}}}, {"c2"}); // 3: 4x4x4 = 256 B
    b.conv("c3", "pool", 8, 3);                                     // 4: 4x4x8 = 512 B
    b.add("drop", "Dropout", {{"rate", 0.5}}, {"c3"});              // 5: aliases c3
    b.add("up", "UpSampling2D", {{"size", {2, 2}}}, {"drop"});      // 6: 8x8x8 = 2048 B
    b.conv("c4", "up", 4, 2);                                       // 7: 8x8x4 = 1024 B
    b.add("cat", "Concatenate", {{"axis", -1}}, {"c2", "c4"});      // 8: 8x8x8 = 2048 B
    b.conv("c5", "cat", 4, 3);                                      // 9: 8x8x4 = 1024 B
    b.conv("out", "c5", 1, 1, 1, "sigmoid");                        // 10: the output
    BuildOptions options;
    options.initialize_missing_weights = true;
    return Graph(b.spec(), options);
}

const ArenaBlock& block_of(const ActivationPlan& plan, const Graph& graph, const std::string& name)
{
    for (std::size_t i = 0; i < graph.nodes().size(); ++i)
        if (graph.nodes()[i].layer->name() == name)
            return plan.blocks.at(plan.placements[i].block);
    throw std::runtime_error("no node " + name);
}

TEST(ActivationPlan, CopyingConcatenateLifetimesAndPeakByHand)
{
    const Graph graph = small_unet_graph();
    PlanOptions copying;
    copying.concat_in_place = false;
    const ActivationPlan plan = plan_activations(graph, Shape{1, 8, 8, 1}, copying);
    ASSERT_EQ(plan.blocks.size(), 8u); // c1 c2 pool c3 up c4 cat c5; input, out outside
    const auto expect_block = [&](const std::string& name, std::size_t bytes, int first, int last)
    {
        const ArenaBlock& b = block_of(plan, graph, name);
        EXPECT_EQ(b.bytes, bytes) << name;
        EXPECT_EQ(b.first, first) << name;
        EXPECT_EQ(b.last, last) << name;
    };
    expect_block("c1", 1024, 1, 2);
    expect_block("c2", 1024, 2, 8); // read by pool (3) and cat (8)
    expect_block("pool", 256, 3, 4);
    expect_block("c3", 512, 4, 6); // through the Dropout, read by up (6)
    expect_block("up", 2048, 6, 7);
    expect_block("c4", 1024, 7, 8);
    expect_block("cat", 2048, 8, 9);
    expect_block("c5", 1024, 9, 10);
    // Live bytes per step: 1: 1024, 2: 2048, 3: 1280, 4: 1792, 5: 1536, 6: c2+c3+up = 3584,
    // 7: c2+up+c4 = 4096, 8: c2+c4+cat = 4096, 9: 3072, 10: 1024.
    EXPECT_EQ(plan.lower_bound_bytes, 4096u);
    // Greedy: up 0, cat 0, c1 0, c2 2048, c4 3072, c5 2048, c3 3072, pool 0 -> 4096.
    EXPECT_EQ(plan.arena_bytes, 4096u);
    EXPECT_EQ(block_of(plan, graph, "c2").offset, 2048u);
    EXPECT_EQ(block_of(plan, graph, "c4").offset, 3072u);
    EXPECT_EQ(plan.concat_inputs_in_place, 0);
    EXPECT_EQ(plan.concat_inputs_copied, 2);
    EXPECT_EQ(plan.input_bytes, 256u);
    EXPECT_EQ(plan.output_bytes, 256u);
    expect_disjoint(plan.blocks, plan.arena_bytes);

    const auto placement = [&](int node) { return plan.placements.at(node); };
    EXPECT_EQ(placement(0).storage, Storage::input);
    EXPECT_EQ(placement(10).storage, Storage::output);
    EXPECT_EQ(placement(5).block, placement(4).block); // the Dropout aliases c3
    EXPECT_EQ(placement(8).pixel_stride, 8);
    EXPECT_EQ(placement(2).pixel_stride, 4);
}

TEST(ActivationPlan, InPlaceConcatenateLifetimesAndPeakByHand)
{
    // Conv2D writes strided output and MaxPooling2D reads strided input, so both c2 (read by
    // pool and cat) and c4 are written into their slices of cat, whose block then lives from
    // c2's step to c5's.
    const Graph graph = small_unet_graph();
    const ActivationPlan plan = plan_activations(graph, Shape{1, 8, 8, 1});
    EXPECT_EQ(plan.concat_inputs_in_place, 2);
    EXPECT_EQ(plan.concat_inputs_copied, 0);
    ASSERT_EQ(plan.blocks.size(), 6u); // c1 cat(c2, c4) pool c3 up c5
    const Placement& c2 = plan.placements[2];
    const Placement& c4 = plan.placements[7];
    const Placement& cat = plan.placements[8];
    EXPECT_EQ(c2.block, cat.block);
    EXPECT_EQ(c4.block, cat.block);
    EXPECT_EQ(c2.offset, 0u);
    EXPECT_EQ(c4.offset, 4u);
    EXPECT_EQ(c2.pixel_stride, 8);
    EXPECT_EQ(c4.pixel_stride, 8);
    const ArenaBlock& root = plan.blocks[cat.block];
    EXPECT_EQ(root.bytes, 2048u);
    EXPECT_EQ(root.first, 2);
    EXPECT_EQ(root.last, 9);
    // Live: 1: c1 1024, 2: c1+cat 3072, 3: cat+pool 2304, 4: +c3 2816, 5: cat+c3 2560,
    // 6: cat+c3+up = 4608, 7: cat+up 4096, 8: 2048, 9: cat+c5 3072, 10: 1024. In place costs
    // 512 B more than copying here: cat's block is reserved while up (2048 B) still lives.
    EXPECT_EQ(plan.lower_bound_bytes, 4608u);
    // Greedy: cat 0, up 2048, c1 2048, c5 2048, c3 4096, pool into the gap at 2048.
    EXPECT_EQ(plan.arena_bytes, 4608u);
    EXPECT_EQ(plan.blocks[plan.placements[3].block].offset, 2048u);
    expect_disjoint(plan.blocks, plan.arena_bytes);
}

/// a, b -> ab = cat(a, b); c; abc = cat(ab, c) -> out, with Activation layers (dense output
/// only) as a, b, c. The inner Concatenate writes strided output, so it lands in place in the
/// outer one's first 4 channels.
TEST(ActivationPlan, NestedConcatenateWritesInPlaceIntoTheOuterSlice)
{
    SpecBuilder b("nested");
    b.input("input", {nullptr, nullptr, nullptr, 2});
    b.add("a", "Activation", {{"activation", "relu"}}, {"input"});    // 1: 4x4x2 = 128 B
    b.add("b", "Activation", {{"activation", "sigmoid"}}, {"input"}); // 2: 4x4x2 = 128 B
    b.add("ab", "Concatenate", {{"axis", -1}}, {"a", "b"});           // 3: 4x4x4 = 256 B
    b.add("c", "Activation", {{"activation", "tanh"}}, {"input"});    // 4: 4x4x2 = 128 B
    b.add("abc", "Concatenate", {{"axis", -1}}, {"ab", "c"});         // 5: 4x4x6 = 384 B
    b.conv("out", "abc", 1, 1, 1, "sigmoid");                         // 6: output
    BuildOptions options;
    options.initialize_missing_weights = true;
    const Graph graph(b.spec(), options);
    const ActivationPlan plan = plan_activations(graph, Shape{1, 4, 4, 2});
    EXPECT_EQ(plan.concat_inputs_in_place, 1); // ab into abc
    EXPECT_EQ(plan.concat_inputs_copied, 3);
    const Placement& ab = plan.placements[3];
    const Placement& abc = plan.placements[5];
    EXPECT_EQ(ab.storage, Storage::arena);
    EXPECT_EQ(ab.block, abc.block);
    EXPECT_EQ(ab.offset, 0u);
    EXPECT_EQ(ab.pixel_stride, 6);
    const ArenaBlock& root = plan.blocks[abc.block];
    EXPECT_EQ(root.bytes, 384u);
    EXPECT_EQ(root.first, 3); // from ab's step
    EXPECT_EQ(root.last, 6);
    // a [1,3] 128, b [2,3] 128, abc [3,6] 384, c [4,5] 128.
    // Steps: 1: 128, 2: 256, 3: a+b+abc = 640, 4: 512, 5: 512, 6: 384.
    EXPECT_EQ(plan.lower_bound_bytes, 640u);
    EXPECT_EQ(plan.arena_bytes, 640u); // abc 0, a 384, b 512, c 384
    expect_disjoint(plan.blocks, plan.arena_bytes);

    PlanOptions copying;
    copying.concat_in_place = false;
    const ActivationPlan copy = plan_activations(graph, Shape{1, 4, 4, 2}, copying);
    EXPECT_EQ(copy.concat_inputs_in_place, 0);
    // ab [3,5] 256, abc [5,6]: step 3: a+b+ab = 512, 5: ab+c+abc = 768.
    EXPECT_EQ(copy.lower_bound_bytes, 768u);
    EXPECT_EQ(copy.arena_bytes, 768u);
}

TEST(ActivationPlan, ValueFedTwiceToOneConcatenateIsCopied)
{
    SpecBuilder b("twice");
    b.input("input", {nullptr, nullptr, nullptr, 1});
    b.conv("a", "input", 2, 3);
    b.conv("b", "input", 2, 3);
    b.add("ab", "Concatenate", {{"axis", -1}}, {"a", "b"});
    b.add("abab", "Concatenate", {{"axis", -1}}, {"ab", "ab"});
    b.conv("out", "abab", 1, 1);
    BuildOptions options;
    options.initialize_missing_weights = true;
    const Graph graph(b.spec(), options);
    const ActivationPlan plan = plan_activations(graph, Shape{1, 4, 4, 1});
    EXPECT_NE(plan.placements[3].block, plan.placements[4].block);
    EXPECT_EQ(plan.placements[3].pixel_stride, 4);
}

} // namespace
} // namespace atrous::infer
