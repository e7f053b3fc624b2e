// SPDX-License-Identifier: Apache-2.0
// Purpose: infer's boundary between the stages' neutral Image and the engine's Tensor, without
// copies: an image is read by the engine through a tensor view, a result's storage is moved.
#pragma once

#include "stages/image.hpp"
#include "stages/infer/engine/tensor.hpp"

#include <stdexcept>
#include <utility>

namespace atrous::infer
{

/// `image` as a 1 x H x W x C tensor view of its storage (no copy). The image must outlive the
/// view; the engine only reads it (Model::forward takes a const tensor).
inline Tensor tensor_view(const Image& image)
{
    return Tensor::view(Shape{1, image.height(), image.width(), image.channels()},
                        const_cast<float*>(image.data()));
}

/// A 1 x H x W x C tensor as an H x W x C image: an owning tensor's storage is moved, not copied.
inline Image to_image(Tensor&& tensor)
{
    const Shape s = tensor.shape();
    if (s.n != 1)
        throw std::invalid_argument("to_image: a tensor of one sample expected");
    return Image(ImageShape{s.h, s.w, s.c}, std::move(tensor).release());
}

} // namespace atrous::infer
