// SPDX-License-Identifier: Apache-2.0
// Purpose: InputLayer shape parsing and the pass-through layers.

#include "identity.hpp"

#include "stages/infer/engine/keras_config.hpp"

#include <algorithm>

namespace atrous::infer
{

InputLayer::InputLayer(const LayerSpec& spec) : Layer(spec.name, spec.class_name)
{
    const KerasConfig config(spec.config, spec.name);
    const std::string key = config.has("batch_input_shape") ? "batch_input_shape"
                            : config.has("batch_shape")     ? "batch_shape"
                                                            : "batch_input_shape";
    if (!config.has(key))
        config.fail(key, "an input shape [null, height, width, channels]");
    const nlohmann::json& dims = config.json()[key];
    const auto dim = [&](std::size_t i)
    {
        const nlohmann::json& d = dims[i];
        if (d.is_null())
            return 0;
        if (!d.is_number_integer() || d.get<int>() < 1)
            config.fail(key, "positive sizes or null");
        return d.get<int>();
    };
    if (!dims.is_array() || (dims.size() != 4 && dims.size() != 2))
        config.fail(key, "[null, height, width, channels] or [null, features]");
    if (dims.size() == 4)
        m_shape = Shape{0, dim(1), dim(2), dim(3)};
    else
        m_shape = Shape{0, 1, 1, dim(1)};
    if (m_shape.c == 0)
        config.fail(key, "a known channel count");
}

Shape InputLayer::output_shape(const std::vector<Shape>& inputs) const
{
    if (inputs.empty())
        return m_shape;
    expect_inputs(inputs, 1);
    return inputs[0];
}

void InputLayer::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                         KernelKind kernels) const
{
    std::copy(inputs[0]->data(), inputs[0]->data() + inputs[0]->size(), output.data());
}

Identity::Identity(const LayerSpec& spec, const std::vector<Shape>& inputs)
    : Layer(spec.name, spec.class_name)
{
    output_shape(inputs);
}

Shape Identity::output_shape(const std::vector<Shape>& inputs) const
{
    expect_inputs(inputs, 1);
    return inputs[0];
}

void Identity::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                       KernelKind kernels) const
{
    std::copy(inputs[0]->data(), inputs[0]->data() + inputs[0]->size(), output.data());
}

} // namespace atrous::infer
