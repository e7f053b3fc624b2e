// SPDX-License-Identifier: Apache-2.0
// Purpose: forward passes in the reused activation arena: bit-identical to running every layer
// into its own fresh tensor, no arena allocation on a repeated shape, arenas shared safely by
// concurrent calls, and Model::activation_memory.

#include "stages/infer/engine/graph.hpp"
#include "stages/infer/engine/model.hpp"
#include "tests/support/random_tensor.hpp"
#include "tests/support/spec_builder.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <thread>

namespace atrous::infer
{
namespace
{

using test::SpecBuilder;

BuildOptions random_weights()
{
    BuildOptions options;
    options.initialize_missing_weights = true;
    options.seed = 3;
    return options;
}

ModelSpec unet_spec()
{
    return test::small_unet_spec("arena_unet", false);
}

/// Concatenations of concatenations, a value read by two Concatenates and a conv, a separable
/// layer and an Add.
ModelSpec tangled_spec()
{
    SpecBuilder b("tangled");
    b.input("input", {nullptr, nullptr, nullptr, 3});
    b.conv("a", "input", 5, 3);
    b.conv("b", "input", 4, 1);
    b.add("ab", "Concatenate", {{"axis", -1}}, {"a", "b"});
    b.add("sep", "SeparableConv2D",
          {{"filters", 9},
           {"kernel_size", {3, 3}},
           {"padding", "same"},
           {"depth_multiplier", 2},
           {"activation", "relu"}},
          {"ab"});
    b.add("sum", "Add", {}, {"ab", "sep"});
    b.add("ba", "Concatenate", {{"axis", -1}}, {"b", "a"});
    b.add("all", "Concatenate", {{"axis", -1}}, {"ab", "ba", "sum"});
    b.conv("mix", "all", 7, 3, 2);
    b.add("cat2", "Concatenate", {{"axis", -1}}, {"mix", "b"});
    b.conv("out", "cat2", 2, 1, 1, "softmax");
    return b.spec();
}

using test::random_tensor;

/// The engine before the arena: every layer into a fresh zeroed tensor, pass-through layers
/// aliasing their input.
Tensor run_naively(const Graph& graph, const Tensor& input, KernelKind kernels)
{
    const std::vector<Shape> shapes = graph.plan(input.shape());
    std::vector<std::shared_ptr<const Tensor>> values(graph.nodes().size());
    values[graph.input_node()] = std::make_shared<Tensor>(input);
    for (std::size_t i = 0; i < graph.nodes().size(); ++i)
    {
        const Node& node = graph.nodes()[i];
        if (static_cast<int>(i) == graph.input_node())
            continue;
        if (node.layer->is_identity())
        {
            values[i] = values[node.inputs[0]];
            continue;
        }
        std::vector<const Tensor*> args;
        for (int p : node.inputs)
            args.push_back(values[p].get());
        auto out = std::make_shared<Tensor>(shapes[i]);
        node.layer->forward(args, *out, kernels);
        values[i] = out;
    }
    return *values[graph.output_node()];
}

void expect_bit_identical(const Tensor& a, const Tensor& b)
{
    ASSERT_EQ(a.shape(), b.shape());
    ASSERT_TRUE(a.contiguous() && b.contiguous());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
}

TEST(WorkspacePool, ArenaForwardIsBitIdenticalToFreshTensorsPerLayer)
{
    for (const ModelSpec& spec : {unet_spec(), tangled_spec()})
        for (KernelKind kind : {KernelKind::reference, KernelKind::fast})
        {
            SCOPED_TRACE(spec.name + (kind == KernelKind::fast ? " fast" : " reference"));
            const Graph graph(spec, random_weights());
            const Shape shape{2, 12, 8, graph.facts().in_channels};
            for (unsigned run = 0; run < 3; ++run) // the 2nd and 3rd reuse the arena
            {
                const Tensor input = random_tensor(shape, 40 + run);
                expect_bit_identical(graph.run(input, kind), run_naively(graph, input, kind));
            }
        }
}

TEST(WorkspacePool, CopyingConcatenateGivesTheSameBitsAndItsOwnPlan)
{
    BuildOptions copying = random_weights();
    copying.concat_in_place = false;
    for (const ModelSpec& spec : {unet_spec(), tangled_spec()})
    {
        SCOPED_TRACE(spec.name);
        const Model in_place(spec, random_weights());
        const Model copy(spec, copying);
        const Shape shape{1, 8, 12, in_place.facts().in_channels};
        const Tensor input = random_tensor(shape, 5);
        expect_bit_identical(in_place.forward(input), copy.forward(input));
        const ActivationMemory a = in_place.activation_memory(shape);
        const ActivationMemory b = copy.activation_memory(shape);
        EXPECT_GT(a.concat_inputs_in_place, 0);
        EXPECT_EQ(b.concat_inputs_in_place, 0);
        EXPECT_EQ(b.arena_bytes, a.copying_arena_bytes);
        EXPECT_EQ(b.arena_bytes, b.copying_arena_bytes);
        EXPECT_EQ(b.lower_bound_bytes, a.copying_lower_bound_bytes);
    }
}

TEST(WorkspacePool, TangledGraphPlacesConcatenateInputsInPlace)
{
    const Model model(tangled_spec(), random_weights());
    const ActivationMemory m = model.activation_memory(Shape{1, 8, 8, 3});
    // Always in place: ab and ba into all (Concatenate writes strided; ab's other readers,
    // sep and sum, do not read strided: so only ba).
    EXPECT_GE(m.concat_inputs_in_place, 1);
    EXPECT_EQ(m.concat_inputs_in_place + m.concat_inputs_copied, 9);
    EXPECT_GE(m.arena_bytes, m.lower_bound_bytes);
    EXPECT_GE(m.copying_arena_bytes, m.copying_lower_bound_bytes);
    EXPECT_EQ(m.input_bytes, 8u * 8 * 3 * 4);
    EXPECT_EQ(m.output_bytes, 8u * 8 * 2 * 4);
}

TEST(WorkspacePool, RepeatedShapeAllocatesNoArena)
{
    const Model model(unet_spec(), random_weights());
    const Tensor input = random_tensor(Shape{1, 16, 16, 2}, 1);
    EXPECT_EQ(model.workspace_stats().forwards, 0);
    model.forward(input);
    const WorkspaceStats first = model.workspace_stats();
    EXPECT_EQ(first.forwards, 1);
    EXPECT_EQ(first.plans, 1);
    EXPECT_EQ(first.arena_allocations, 1);
    EXPECT_EQ(first.workspaces, 1);
    EXPECT_EQ(first.bytes_held, model.activation_memory(input.shape()).arena_bytes);
    for (int i = 0; i < 3; ++i)
        model.forward(input, {KernelKind::reference});
    const WorkspaceStats later = model.workspace_stats();
    EXPECT_EQ(later.forwards, 4);
    EXPECT_EQ(later.plans, 1);
    EXPECT_EQ(later.arena_allocations, 1);
    EXPECT_EQ(later.workspaces, 1);
    EXPECT_EQ(later.bytes_held, first.bytes_held);
}

TEST(WorkspacePool, SmallerShapeReusesTheArenaLargerGrowsIt)
{
    const Model model(unet_spec(), random_weights());
    model.forward(random_tensor(Shape{1, 16, 16, 2}, 1));
    model.forward(random_tensor(Shape{1, 8, 12, 2}, 2)); // smaller: same arena
    WorkspaceStats s = model.workspace_stats();
    EXPECT_EQ(s.plans, 2);
    EXPECT_EQ(s.arena_allocations, 1);
    model.forward(random_tensor(Shape{2, 16, 16, 2}, 3)); // larger: grown once
    model.forward(random_tensor(Shape{2, 16, 16, 2}, 4));
    model.forward(random_tensor(Shape{1, 8, 12, 2}, 5));
    s = model.workspace_stats();
    EXPECT_EQ(s.plans, 3);
    EXPECT_EQ(s.arena_allocations, 2);
    EXPECT_EQ(s.workspaces, 1);
    EXPECT_EQ(s.bytes_held, model.activation_memory(Shape{2, 16, 16, 2}).arena_bytes);
}

TEST(WorkspacePool, ConcurrentForwardsMatchSequentialOnes)
{
    const Model model(unet_spec(), random_weights());
    constexpr int threads = 4;
    constexpr int runs = 3;
    const Shape shapes[2] = {Shape{1, 16, 16, 2}, Shape{1, 8, 24, 2}};
    std::vector<Tensor> inputs;
    std::vector<Tensor> expected;
    for (int i = 0; i < threads * runs; ++i)
    {
        inputs.push_back(random_tensor(shapes[i % 2], 100 + i));
        expected.push_back(model.forward(inputs.back()));
    }
    std::vector<Tensor> got(inputs.size());
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back(
            [&, t]
            {
                for (int r = 0; r < runs; ++r)
                    got[t * runs + r] = model.forward(inputs[t * runs + r]);
            });
    for (std::thread& t : pool)
        t.join();
    for (std::size_t i = 0; i < inputs.size(); ++i)
        expect_bit_identical(got[i], expected[i]);
    const WorkspaceStats s = model.workspace_stats();
    EXPECT_EQ(s.forwards, 2 * threads * runs);
    EXPECT_LE(s.workspaces, threads);
    EXPECT_LE(s.arena_allocations, 2 * threads); // each arena at most made and grown once
    EXPECT_EQ(s.plans, 2);
}

TEST(WorkspacePool, PassThroughModelReturnsACopyOfItsInput)
{
    SpecBuilder b("identity");
    b.input("input", {nullptr, nullptr, nullptr, 2});
    b.add("drop", "Dropout", {{"rate", 0.1}}, {"input"});
    const Model model(b.spec(), random_weights());
    const Tensor input = random_tensor(Shape{1, 3, 5, 2}, 9);
    const Tensor out = model.forward(input);
    EXPECT_FALSE(out.is_view());
    expect_bit_identical(out, input);
    EXPECT_EQ(model.activation_memory(input.shape()).arena_bytes, 0u);
}

TEST(WorkspacePool, StridedInputViewIsReadAsItsValues)
{
    const Model model(unet_spec(), random_weights());
    // A 4-channel buffer whose channels 1..2 are the input.
    const Tensor dense = random_tensor(Shape{1, 8, 8, 2}, 21);
    std::vector<float> wide(8 * 8 * 4, -7.0f);
    for (int p = 0; p < 64; ++p)
        for (int c = 0; c < 2; ++c)
            wide[p * 4 + 1 + c] = dense.data()[p * 2 + c];
    const Tensor view = Tensor::view(dense.shape(), wide.data() + 1, 4);
    expect_bit_identical(model.forward(view), model.forward(dense));
}

TEST(Tensor, ViewIndexesWithItsPixelStrideAndCopiesDense)
{
    std::vector<float> buffer(2 * 3 * 5);
    for (std::size_t i = 0; i < buffer.size(); ++i)
        buffer[i] = static_cast<float>(i);
    Tensor view = Tensor::view(Shape{1, 2, 3, 2}, buffer.data() + 3, 5);
    EXPECT_TRUE(view.is_view());
    EXPECT_FALSE(view.contiguous());
    EXPECT_EQ(view.pixel_stride(), 5);
    EXPECT_EQ(view.size(), 12u);
    EXPECT_EQ(view.at(0, 1, 2, 1), buffer[3 + 5 * 5 + 1]);
    view.at(0, 0, 1, 0) = -1.0f;
    EXPECT_EQ(buffer[3 + 5], -1.0f);
    const Tensor copy = view;
    EXPECT_FALSE(copy.is_view());
    EXPECT_TRUE(copy.contiguous());
    for (int y = 0; y < 2; ++y)
        for (int x = 0; x < 3; ++x)
            for (int c = 0; c < 2; ++c)
                EXPECT_EQ(copy.at(0, y, x, c), view.at(0, y, x, c));
    Tensor moved = std::move(view);
    EXPECT_TRUE(moved.is_view());
    EXPECT_EQ(moved.data(), buffer.data() + 3);
    const Tensor owning(Shape{1, 1, 2, 3}, 2.0f);
    EXPECT_EQ(owning.pixel_stride(), 3);
    EXPECT_TRUE(owning.contiguous());
}

} // namespace
} // namespace atrous::infer
