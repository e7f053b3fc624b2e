// SPDX-License-Identifier: Apache-2.0
// Purpose: the `atrous info` report: rows per layer, totals and tiling facts.

#include "stages/infer/engine/model_report.hpp"
#include "tests/support/spec_builder.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace atrous::infer
{
namespace
{

TEST(ModelReport, ListsLayersTotalsAndTilingFacts)
{
    test::SpecBuilder b("tiny");
    b.input("input_1", {nullptr, nullptr, nullptr, 1});
    b.conv("conv_a", "input_1", 8, 3, 1);
    b.add("pool", "MaxPooling2D", {{"pool_size", 2}}, {"conv_a"});
    b.conv("conv_b", "pool", 8, 3, 2);
    b.add("up", "UpSampling2D", {{"size", 2}}, {"conv_b"});
    b.add("cat", "Concatenate", {{"axis", -1}}, {"conv_a", "up"});
    b.conv("out", "cat", 1, 1, 1, "sigmoid");
    BuildOptions options;
    options.initialize_missing_weights = true;
    const Model model(b.spec(), options);
    const std::string text = format_model_report(model, Shape{1, 64, 64, 1});

    // conv_a: 2*64*64*9*1*8 = 589,824 FLOP = 0.6 MFLOP; params 80.
    EXPECT_NE(text.find("conv_a"), std::string::npos) << text;
    EXPECT_NE(text.find("Conv2D"), std::string::npos);
    EXPECT_NE(text.find("(1,64,64,8)"), std::string::npos);
    EXPECT_NE(text.find("(1,32,32,8)"), std::string::npos);
    // params: 80 + (9*8*8+8=584) + (16+1=17) = 681.
    EXPECT_NE(text.find("total params:            681\n"), std::string::npos) << text;
    // conv_a 0.589824 + conv_b 2*32*32*576 = 1.179648 + out 2*64*64*16 = 0.131072 MFLOP.
    EXPECT_NE(text.find("GFLOP per tile:          0.00 (64x64x1, batch 1)"), std::string::npos)
        << text;
    // conv_a 1/1; pool after +1 -> 1/2 (scale 2); conv_b d2: +4/+4 -> 5/6; up +1/+1 -> 6/7.
    EXPECT_NE(text.find("receptive field radius:  7 px"), std::string::npos) << text;
    EXPECT_NE(text.find("total stride:            2"), std::string::npos);
    EXPECT_NE(text.find("halo for exact tiling:   8 px"), std::string::npos);
    EXPECT_NE(text.find("1 channel(s), sigmoid"), std::string::npos);
    EXPECT_EQ(model.flops(Shape{1, 64, 64, 1}), 589824.0 + 1179648.0 + 131072.0);
    // Copying: conv_a 128 KiB [1,5], pool 32 KiB [2,3], conv_b 32 KiB [3,4], up 128 KiB [4,5],
    // cat 256 KiB [5,6]; step 5 holds conv_a + up + cat = 512 KiB.
    EXPECT_NE(text.find("Concatenate inputs (copying all: 0.50 MiB planned, lower bound "
                        "0.50 MiB)"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("(input 0.02 MiB and output 0.02 MiB outside)"), std::string::npos) << text;
    const ActivationMemory m = model.activation_memory(Shape{1, 64, 64, 1});
    EXPECT_NE(text.find("activation arena:        " +
                        fmt::format("{:.2f} MiB planned, lower bound {:.2f} MiB",
                                    m.arena_bytes / 1048576.0, m.lower_bound_bytes / 1048576.0)),
              std::string::npos)
        << text;
}

} // namespace
} // namespace atrous::infer
