// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras Dense: config, weights, shapes, kernel call.

#include "dense.hpp"

#include "stages/infer/engine/keras_config.hpp"

namespace atrous::infer
{

Dense::Dense(const LayerSpec& spec, const std::vector<Shape>& inputs, WeightSet& weights)
    : Layer(spec.name, spec.class_name)
{
    expect_inputs(inputs, 1);
    const KerasConfig config(spec.config, spec.name);
    m_units = config.positive("units", 0, "a positive count");
    m_in_c = inputs[0].c;
    m_on_vector = inputs[0].h == 1 && inputs[0].w == 1;
    m_activation = config.activation(m_activation_name);
    m_kernel = weights.take("kernel", {m_in_c, m_units}, WeightInit::he_uniform, m_in_c);
    if (config.boolean("use_bias", true))
        m_bias = weights.take("bias", {m_units}, WeightInit::zeros);
    weights.expect_all_used();
}

Shape Dense::output_shape(const std::vector<Shape>& inputs) const
{
    expect_inputs(inputs, 1);
    expect_channels(inputs[0], m_in_c);
    Shape out = inputs[0];
    out.c = m_units;
    return out;
}

void Dense::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                    KernelKind kernels) const
{
    const Shape& in = inputs[0]->shape();
    const std::size_t rows = static_cast<std::size_t>(in.n) * in.h * in.w;
    const float* bias = m_bias.empty() ? nullptr : m_bias.data();
    if (kernels == KernelKind::reference)
        kernels::dense_ref(rows, m_in_c, m_units, inputs[0]->data(), m_kernel.data(), bias,
                           m_activation, output.data());
    else
        kernels::dense_tbb(rows, m_in_c, m_units, inputs[0]->data(), m_kernel.data(), bias,
                           m_activation, output.data());
}

long long Dense::params() const
{
    return static_cast<long long>(m_kernel.size() + m_bias.size());
}

double Dense::flops(const std::vector<Shape>& inputs, const Shape& output) const
{
    return 2.0 * output.size() * m_in_c;
}

bool Dense::fold_affine(const std::vector<float>& scale, const std::vector<float>& shift)
{
    return fold_affine_into_output_channels(m_activation, m_kernel, m_bias, scale, shift);
}

} // namespace atrous::infer
