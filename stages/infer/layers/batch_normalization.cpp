// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras BatchNormalization (inference form, moving statistics) as a per-channel affine.

#include "batch_normalization.hpp"

#include "stages/infer/engine/keras_config.hpp"
#include "stages/infer/kernels/kernels.hpp"

#include <cmath>

namespace atrous::infer
{

BatchNormalization::BatchNormalization(const LayerSpec& spec, const std::vector<Shape>& inputs,
                                       WeightSet& weights)
    : Layer(spec.name, spec.class_name)
{
    expect_inputs(inputs, 1);
    const KerasConfig config(spec.config, spec.name);
    // Keras 2 may write axis as [3]; only the channel axis is supported.
    nlohmann::json axis = spec.config.value("axis", nlohmann::json(-1));
    if (axis.is_array() && axis.size() == 1)
        axis = axis[0];
    if (!(axis == -1 || axis == 3))
        config.fail("axis", "-1 or 3 (channels)");
    const double epsilon = config.number("epsilon", 1e-3);
    m_channels = inputs[0].c;
    const int c = m_channels;
    std::vector<float> gamma(c, 1.0f);
    std::vector<float> beta(c, 0.0f);
    if (config.boolean("scale", true))
        gamma = weights.take("gamma", {c}, WeightInit::ones);
    if (config.boolean("center", true))
        beta = weights.take("beta", {c}, WeightInit::zeros);
    const std::vector<float> mean = weights.take("moving_mean", {c}, WeightInit::zeros);
    const std::vector<float> variance = weights.take("moving_variance", {c}, WeightInit::ones);
    weights.expect_all_used();
    m_params = static_cast<long long>(c) *
               (2 + config.boolean("scale", true) + config.boolean("center", true));
    m_scale.resize(c);
    m_shift.resize(c);
    for (int k = 0; k < c; ++k)
    {
        // Keras: gamma * (x - mean) / sqrt(var + eps) + beta, in float64 here then rounded.
        const double s = gamma[k] / std::sqrt(static_cast<double>(variance[k]) + epsilon);
        m_scale[k] = static_cast<float>(s);
        m_shift[k] = static_cast<float>(beta[k] - mean[k] * s);
    }
}

Shape BatchNormalization::output_shape(const std::vector<Shape>& inputs) const
{
    expect_inputs(inputs, 1);
    expect_channels(inputs[0], m_channels);
    return inputs[0];
}

void BatchNormalization::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                                 KernelKind kernels) const
{
    const Shape& s = output.shape();
    const std::size_t pixels = static_cast<std::size_t>(s.n) * s.h * s.w;
    if (kernels == KernelKind::reference)
        kernels::affine_ref(pixels, s.c, inputs[0]->data(), m_scale.data(), m_shift.data(),
                            output.data());
    else
        kernels::affine_tbb(pixels, s.c, inputs[0]->data(), m_scale.data(), m_shift.data(),
                            output.data());
}

} // namespace atrous::infer
