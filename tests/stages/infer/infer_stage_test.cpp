// SPDX-License-Identifier: Apache-2.0
// Purpose: the infer stage: model loading, the band check, forward on tiles, empty tiles.
#include "stages/error.hpp"
#include "stages/infer/image_tensor.hpp"
#include "stages/infer/infer_stage.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace atrous
{
namespace
{

InferOptions placeholder(int in_channels, int classes)
{
    InferOptions o;
    infer::UnetArchitecture a;
    a.filters = 2;
    a.depth = 2;
    a.dilation = {1, 2};
    a.in_channels = in_channels;
    a.classes = classes;
    o.architecture = a;
    o.placeholder_seed = 4;
    return o;
}

RasterTile tile_of(int h, int w, int c)
{
    RasterTile t;
    t.task.window = {0, 0, w, h};
    t.task.core = t.task.window;
    t.pixels = Image(ImageShape{h, w, c});
    for (std::size_t i = 0; i < t.pixels.size(); ++i)
        t.pixels.data()[i] = static_cast<float>(i % 7) * 0.1f;
    t.valid.assign(static_cast<std::size_t>(h) * w, 1);
    return t;
}

TEST(InferStage, RunsTheModelOnTheWindow)
{
    InferStage stage(placeholder(2, 3));
    stage.prepare({});
    EXPECT_EQ(stage.name(), "infer");
    const RasterTile t = tile_of(8, 12, 2);
    const Prediction p = stage.infer(t);
    EXPECT_FALSE(p.empty);
    EXPECT_EQ(p.probabilities.shape(), (ImageShape{8, 12, 3}));
    EXPECT_EQ(p.valid, t.valid);
    // Same numbers as the model itself.
    const infer::Tensor direct = stage.model().forward(infer::tensor_view(t.pixels));
    for (std::size_t i = 0; i < direct.size(); ++i)
        ASSERT_EQ(p.probabilities.data()[i], direct.data()[i]);
    // Softmax over 3 classes sums to 1.
    float sum = 0;
    for (int c = 0; c < 3; ++c)
        sum += p.probabilities.at(3, 5, c);
    EXPECT_NEAR(sum, 1.0f, 1e-5f);
}

TEST(InferStage, EmptyTilesAreNotRun)
{
    InferStage stage(placeholder(1, 1));
    stage.prepare({});
    RasterTile t = tile_of(4, 4, 1);
    t.empty = true;
    t.pixels = Image(); // a reader may skip reading; the stage must not touch them
    const Prediction p = stage.infer(t);
    EXPECT_TRUE(p.empty);
    EXPECT_EQ(p.probabilities.size(), 0u);
}

TEST(InferStage, BandCountMustMatchTheModel)
{
    InferStage stage(placeholder(3, 1));
    stage.prepare({});
    RasterInfo info;
    info.path = "/data/scene.tif";
    info.bands = 3;
    EXPECT_NO_THROW(stage.check_input(info));
    info.bands = 1;
    try
    {
        stage.check_input(info);
        FAIL();
    }
    catch (const InputError& e)
    {
        EXPECT_STREQ(e.what(), "infer: /data/scene.tif: 1 band delivered, the model takes 3 input "
                               "channels (choose bands with input.bands)");
    }
}

TEST(InferStage, MissingWeightsFileIsAModelError)
{
    InferOptions o;
    o.weights = "/nonexistent/model.h5";
    InferStage stage(o);
    try
    {
        stage.prepare({});
        FAIL();
    }
    catch (const ModelError& e)
    {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/model.h5"), std::string::npos)
            << e.what();
    }
}

TEST(InferStage, PlaceholderNeedsAnArchitecture)
{
    InferOptions o;
    o.placeholder_seed = 1;
    InferStage stage(o);
    EXPECT_THROW(stage.prepare({}), ModelError);
    EXPECT_THROW(stage.model(), Error);
}

} // namespace
} // namespace atrous
