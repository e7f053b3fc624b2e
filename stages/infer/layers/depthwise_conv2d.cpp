// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras DepthwiseConv2D: config, weights, shapes, kernel call.

#include "depthwise_conv2d.hpp"

#include "stages/infer/engine/keras_config.hpp"
#include "stages/infer/kernels/dispatch.hpp"
#include "stages/infer/layers/window_shape.hpp"

#include <tuple>

namespace atrous::infer
{

DepthwiseConv2d::DepthwiseConv2d(const LayerSpec& spec, const std::vector<Shape>& inputs,
                                 WeightSet& weights)
    : Layer(spec.name, spec.class_name)
{
    expect_inputs(inputs, 1);
    const KerasConfig config(spec.config, spec.name);
    config.require_channels_last();
    std::tie(m_wy, m_wx) = config.conv_windows();
    m_multiplier = config.positive("depth_multiplier", 1, "a positive count");
    const int kh = m_wy.k;
    const int kw = m_wx.k;
    m_in_c = inputs[0].c;
    m_activation = config.activation(m_activation_name);
    m_kernel = weights.take("depthwise_kernel", {kh, kw, m_in_c, m_multiplier},
                            WeightInit::he_uniform, kh * kw);
    if (config.boolean("use_bias", true))
        m_bias = weights.take("bias", {m_in_c * m_multiplier}, WeightInit::zeros);
    weights.expect_all_used();
    output_shape(inputs);
}

Shape DepthwiseConv2d::output_shape(const std::vector<Shape>& inputs) const
{
    expect_inputs(inputs, 1);
    expect_channels(inputs[0], m_in_c);
    return window_output(inputs[0], m_wy, m_wx, m_in_c * m_multiplier);
}

void DepthwiseConv2d::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                              KernelKind kernels) const
{
    forward_rows(inputs, output, kernels, m_wy.pad_before(inputs[0]->shape().h),
                 m_wx.pad_before(inputs[0]->shape().w));
}

void DepthwiseConv2d::forward_rows(const std::vector<const Tensor*>& inputs, Tensor& output,
                                   KernelKind kernels, int pad_top, int pad_left) const
{
    const Shape& in = inputs[0]->shape();
    const Shape& out = output.shape();
    kernels::Conv2dShape s = window_shape(in, out, m_wy, m_wx);
    s.pad_top = pad_top;
    s.pad_left = pad_left;
    const float* bias = m_bias.empty() ? nullptr : m_bias.data();
    if (kernels == KernelKind::reference)
        kernels::depthwise_conv2d_ref(s, inputs[0]->data(), m_kernel.data(), bias, m_activation,
                                      output.data());
    else
        kernels::depthwise_fast().run(s, inputs[0]->data(), m_kernel.data(), bias, m_activation,
                                      output.data());
}

RowMap DepthwiseConv2d::axis_map(const std::vector<Shape>& inputs, Axis axis) const
{
    return window_axis_map(m_wy, m_wx, inputs.at(0), axis);
}

Field DepthwiseConv2d::field(const std::vector<Field>& inputs) const
{
    Field f = inputs.at(0);
    f.y = extend_by_window(f.y, m_wy.k_eff(), m_wy.pad_before(0), m_wy.stride);
    f.x = extend_by_window(f.x, m_wx.k_eff(), m_wx.pad_before(0), m_wx.stride);
    return f;
}

long long DepthwiseConv2d::params() const
{
    return static_cast<long long>(m_kernel.size() + m_bias.size());
}

double DepthwiseConv2d::flops(const std::vector<Shape>& inputs, const Shape& output) const
{
    return 2.0 * output.size() * m_wy.k * m_wx.k;
}

bool DepthwiseConv2d::fold_affine(const std::vector<float>& scale, const std::vector<float>& shift)
{
    // Kernel (kh, kw, in_c, dm) flattened: output channel ci*dm + m is the fastest index pair.
    return fold_affine_into_output_channels(m_activation, m_kernel, m_bias, scale, shift);
}

} // namespace atrous::infer
