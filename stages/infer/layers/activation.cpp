// SPDX-License-Identifier: Apache-2.0
// Purpose: the standalone activation layers (Activation, ReLU, Softmax).

#include "activation.hpp"

#include "stages/infer/engine/keras_config.hpp"

#include <algorithm>
#include <limits>

namespace atrous::infer
{

ActivationLayer::ActivationLayer(const LayerSpec& spec, const std::vector<Shape>& inputs)
    : Layer(spec.name, spec.class_name)
{
    const KerasConfig config(spec.config, spec.name);
    if (spec.class_name == "ReLU")
    {
        m_activation.kind = kernels::ActivationKind::relu;
        m_activation.max_value =
            static_cast<float>(config.number("max_value", std::numeric_limits<double>::infinity()));
        m_activation.negative_slope = static_cast<float>(config.number("negative_slope", 0.0));
        m_activation.threshold = static_cast<float>(config.number("threshold", 0.0));
        m_activation_name = "relu";
    }
    else if (spec.class_name == "Softmax")
    {
        const nlohmann::json axis = spec.config.value("axis", nlohmann::json(-1));
        if (!(axis == -1 || axis == 3 || axis == nlohmann::json::array({-1}) ||
              axis == nlohmann::json::array({3})))
            config.fail("axis", "-1 (channels)");
        m_activation.kind = kernels::ActivationKind::softmax;
        m_activation_name = "softmax";
    }
    else
        m_activation = config.activation(m_activation_name);
    output_shape(inputs);
}

Shape ActivationLayer::output_shape(const std::vector<Shape>& inputs) const
{
    expect_inputs(inputs, 1);
    return inputs[0];
}

void ActivationLayer::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                              KernelKind kernels) const
{
    std::copy(inputs[0]->data(), inputs[0]->data() + inputs[0]->size(), output.data());
    const Shape& s = output.shape();
    const std::size_t pixels = static_cast<std::size_t>(s.n) * s.h * s.w;
    if (kernels == KernelKind::reference)
        kernels::activation_ref(m_activation, pixels, s.c, output.data());
    else
        kernels::activation_tbb(m_activation, pixels, s.c, output.data());
}

} // namespace atrous::infer
