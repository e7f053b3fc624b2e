// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras Flatten: (n, h, w, c) -> (n, 1, 1, h*w*c); NHWC memory is already that order.

#include "flatten.hpp"

#include "stages/infer/engine/keras_config.hpp"

#include <algorithm>

namespace atrous::infer
{

Flatten::Flatten(const LayerSpec& spec, const std::vector<Shape>& inputs)
    : Layer(spec.name, spec.class_name)
{
    const KerasConfig config(spec.config, spec.name);
    config.require_channels_last();
    expect_inputs(inputs, 1);
    if (inputs[0].h == 0 || inputs[0].w == 0)
        throw error("a fixed input size is needed before Flatten: give the InputLayer a "
                    "batch_input_shape with height and width");
    output_shape(inputs);
}

Shape Flatten::output_shape(const std::vector<Shape>& inputs) const
{
    expect_inputs(inputs, 1);
    const Shape& in = inputs[0];
    return Shape{in.n, 1, 1, in.h * in.w * in.c};
}

void Flatten::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                      KernelKind kernels) const
{
    std::copy(inputs[0]->data(), inputs[0]->data() + inputs[0]->size(), output.data());
}

} // namespace atrous::infer
