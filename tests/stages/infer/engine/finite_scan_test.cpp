// SPDX-License-Identifier: Apache-2.0
// Purpose: the non-finite scan: position of the first NaN/Inf in flat arrays (every block
// boundary), contiguous tensors and channel-slice views; nothing found in finite data.
#include "stages/infer/engine/finite_scan.hpp"
#include "stages/infer/engine/model.hpp"
#include "tests/support/spec_builder.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace atrous::infer
{
namespace
{

TEST(FiniteScan, FlatArrays)
{
    std::vector<float> v(10000, 1.0f);
    v[7] = std::numeric_limits<float>::max(); // large but finite
    v[9] = -0.0f;
    v[10] = std::numeric_limits<float>::denorm_min();
    EXPECT_FALSE(first_non_finite(v.data(), v.size()));
    for (const std::size_t at :
         {std::size_t{0}, std::size_t{4095}, std::size_t{4096}, std::size_t{9999}})
    {
        for (const float bad :
             {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
              -std::numeric_limits<float>::infinity()})
        {
            std::vector<float> w = v;
            w[at] = bad;
            w[9999] = at == 9999 ? bad : std::numeric_limits<float>::quiet_NaN(); // a later one
            const auto found = first_non_finite(w.data(), w.size());
            ASSERT_TRUE(found);
            EXPECT_EQ(*found, at);
        }
    }
    EXPECT_FALSE(first_non_finite(v.data(), 0));
}

TEST(FiniteScan, TensorsAndViews)
{
    Tensor t(Shape{1, 3, 4, 5}, 0.5f);
    EXPECT_FALSE(first_non_finite(t));
    t.at(0, 2, 1, 3) = std::numeric_limits<float>::infinity();
    const auto f = first_non_finite(t);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->y, 2);
    EXPECT_EQ(f->x, 1);
    EXPECT_EQ(f->c, 3);
    EXPECT_STREQ(non_finite_name(f->value), "+Inf");

    // A 2-channel slice (channels 1..2) of the 5-channel buffer: the Inf at channel 3 is outside.
    const Tensor slice = Tensor::view(Shape{1, 3, 4, 2}, t.data() + 1, 5);
    EXPECT_FALSE(first_non_finite(slice));
    t.at(0, 1, 3, 2) = std::numeric_limits<float>::quiet_NaN();
    const auto g = first_non_finite(slice);
    ASSERT_TRUE(g);
    EXPECT_EQ(g->y, 1);
    EXPECT_EQ(g->x, 3);
    EXPECT_EQ(g->c, 1);
    EXPECT_STREQ(non_finite_name(g->value), "NaN");
}

TEST(FiniteScan, ForwardNamesTheFirstNonFiniteLayer)
{
    // Three 1x1 convolutions multiplying by 1e15 (the largest weight accepted): an input of 1e10
    // gives 1e25 after conv_a and overflows float32 in conv_b.
    test::SpecBuilder b("overflow");
    b.input("input_1", {nullptr, nullptr, nullptr, 1});
    std::string previous = "input_1";
    for (const std::string name : {"conv_a", "conv_b", "conv_c"})
    {
        b.add(name, "Conv2D",
              {{"filters", 1},
               {"kernel_size", {1, 1}},
               {"padding", "same"},
               {"activation", "linear"}},
              {previous},
              {test::weight("kernel", {1, 1, 1, 1}, [](std::size_t) { return 1e15f; }),
               test::weight("bias", {1}, [](std::size_t) { return 0.0f; })});
        previous = name;
    }
    const Model model(b.spec());
    for (const KernelKind kernels : {KernelKind::reference, KernelKind::fast})
    {
        std::string first = "not set";
        ForwardOptions options;
        options.kernels = kernels;
        options.first_non_finite_layer = &first;
        const Tensor out = model.forward(Tensor(Shape{1, 4, 4, 1}, 1e10f), options);
        EXPECT_TRUE(first_non_finite(out));
        EXPECT_EQ(first, "conv_b (Conv2D)");
        // A finite pass names none.
        (void)model.forward(Tensor(Shape{1, 4, 4, 1}, 1e-20f), options);
        EXPECT_EQ(first, "");
    }
}

} // namespace
} // namespace atrous::infer
