// SPDX-License-Identifier: Apache-2.0
// Purpose: infer's boundary between Image and the engine's Tensor shares or moves storage, never
// copies it (views of other tensors are the one case that copies, they own no storage).
#include "stages/infer/image_tensor.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace atrous::infer
{
namespace
{

TEST(ImageTensor, TheViewSharesTheImageStorage)
{
    Image image(ImageShape{3, 4, 2});
    image.at(2, 1, 1) = 9.0f;
    const Tensor view = tensor_view(image);
    EXPECT_TRUE(view.is_view());
    EXPECT_EQ(view.shape(), (Shape{1, 3, 4, 2}));
    EXPECT_EQ(view.data(), image.data());
    EXPECT_EQ(view.at(0, 2, 1, 1), 9.0f);
}

TEST(ImageTensor, AnOwningTensorMovesIntoTheImage)
{
    Tensor t(Shape{1, 2, 5, 3}, 0.25f);
    t.at(0, 1, 4, 2) = 4.0f;
    const float* where = t.data();
    const Image image = to_image(std::move(t));
    EXPECT_EQ(image.shape(), (ImageShape{2, 5, 3}));
    EXPECT_EQ(image.data(), where);
    EXPECT_EQ(image.at(1, 4, 2), 4.0f);
    EXPECT_EQ(image.at(0, 0, 0), 0.25f);
}

TEST(ImageTensor, AStridedViewIsCopiedOutInOrder)
{
    // Channels 1..2 of a 1 x 1 x 2 x 3 buffer: a channel slice, not contiguous.
    float buffer[6] = {0, 1, 2, 3, 4, 5};
    Tensor slice = Tensor::view(Shape{1, 1, 2, 2}, buffer + 1, 3);
    const Image image = to_image(std::move(slice));
    ASSERT_EQ(image.shape(), (ImageShape{1, 2, 2}));
    EXPECT_EQ(std::vector<float>(image.data(), image.data() + image.size()),
              (std::vector<float>{1, 2, 4, 5}));
}

TEST(ImageTensor, OnlyOneSampleBecomesAnImage)
{
    EXPECT_THROW(to_image(Tensor(Shape{2, 1, 1, 1})), std::invalid_argument);
}

} // namespace
} // namespace atrous::infer
