// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras SeparableConv2D: config, weights, shapes; runs the fastest separable_conv2d
// kernel variant (depthwise and pointwise fused per band of rows), or for the reference kernels
// depthwise_conv2d_ref into a scratch tensor and then dense_ref.

#include "separable_conv2d.hpp"

#include "stages/infer/engine/keras_config.hpp"
#include "stages/infer/layers/window_shape.hpp"

#include <tuple>

namespace atrous::infer
{

SeparableConv2d::SeparableConv2d(const LayerSpec& spec, const std::vector<Shape>& inputs,
                                 WeightSet& weights)
    : Layer(spec.name, spec.class_name)
{
    expect_inputs(inputs, 1);
    const KerasConfig config(spec.config, spec.name);
    config.require_channels_last();
    std::tie(m_wy, m_wx) = config.conv_windows();
    m_multiplier = config.positive("depth_multiplier", 1, "a positive count");
    m_out_c = config.positive("filters", 0, "a positive count");
    const int kh = m_wy.k;
    const int kw = m_wx.k;
    m_in_c = inputs[0].c;
    m_activation = config.activation(m_activation_name);
    const int mid = m_in_c * m_multiplier;
    m_depthwise = weights.take("depthwise_kernel", {kh, kw, m_in_c, m_multiplier},
                               WeightInit::he_uniform, kh * kw);
    m_pointwise =
        weights.take("pointwise_kernel", {1, 1, mid, m_out_c}, WeightInit::he_uniform, mid);
    if (config.boolean("use_bias", true))
        m_bias = weights.take("bias", {m_out_c}, WeightInit::zeros);
    weights.expect_all_used();
    output_shape(inputs);
    m_fast = &kernels::separable_fast();
    pack();
}

kernels::Conv2dShape SeparableConv2d::kernel_shape(const Shape& in, const Shape& out) const
{
    kernels::Conv2dShape s = window_shape(in, out, m_wy, m_wx);
    s.in_c = m_in_c;
    return s;
}

void SeparableConv2d::pack()
{
    kernels::Conv2dShape s;
    s.in_c = m_in_c;
    s.out_c = m_out_c;
    m_packed = m_fast->pack(s, m_multiplier, m_pointwise.data());
}

Shape SeparableConv2d::output_shape(const std::vector<Shape>& inputs) const
{
    expect_inputs(inputs, 1);
    expect_channels(inputs[0], m_in_c);
    return window_output(inputs[0], m_wy, m_wx, m_out_c);
}

void SeparableConv2d::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                              KernelKind kernels) const
{
    forward_rows(inputs, output, kernels, m_wy.pad_before(inputs[0]->shape().h),
                 m_wx.pad_before(inputs[0]->shape().w));
}

void SeparableConv2d::forward_rows(const std::vector<const Tensor*>& inputs, Tensor& output,
                                   KernelKind kernels, int pad_top, int pad_left) const
{
    const Shape& in = inputs[0]->shape();
    const Shape& out = output.shape();
    const float* bias = m_bias.empty() ? nullptr : m_bias.data();
    if (kernels == KernelKind::reference)
    {
        const int mid = m_in_c * m_multiplier;
        Tensor depth(Shape{out.n, out.h, out.w, mid});
        kernels::Conv2dShape s = window_shape(in, depth.shape(), m_wy, m_wx);
        s.pad_top = pad_top;
        s.pad_left = pad_left;
        const std::size_t pixels = static_cast<std::size_t>(out.n) * out.h * out.w;
        kernels::depthwise_conv2d_ref(s, inputs[0]->data(), m_depthwise.data(), nullptr,
                                      kernels::Activation{}, depth.data());
        kernels::dense_ref(pixels, mid, m_out_c, depth.data(), m_pointwise.data(), bias,
                           m_activation, output.data());
    }
    else
    {
        kernels::Conv2dShape s = kernel_shape(in, out);
        s.pad_top = pad_top;
        s.pad_left = pad_left;
        m_fast->run(s, m_multiplier, inputs[0]->data(), m_depthwise.data(), m_packed.data(), bias,
                    m_activation, output.data());
    }
}

RowMap SeparableConv2d::axis_map(const std::vector<Shape>& inputs, Axis axis) const
{
    return window_axis_map(m_wy, m_wx, inputs.at(0), axis);
}

Field SeparableConv2d::field(const std::vector<Field>& inputs) const
{
    Field f = inputs.at(0);
    f.y = extend_by_window(f.y, m_wy.k_eff(), m_wy.pad_before(0), m_wy.stride);
    f.x = extend_by_window(f.x, m_wx.k_eff(), m_wx.pad_before(0), m_wx.stride);
    return f;
}

long long SeparableConv2d::params() const
{
    return static_cast<long long>(m_depthwise.size() + m_pointwise.size() + m_bias.size());
}

double SeparableConv2d::flops(const std::vector<Shape>& inputs, const Shape& output) const
{
    const double pixels = static_cast<double>(output.n) * output.h * output.w;
    const double mid = static_cast<double>(m_in_c) * m_multiplier;
    return 2.0 * pixels * mid * (m_wy.k * m_wx.k + m_out_c);
}

bool SeparableConv2d::fold_affine(const std::vector<float>& scale, const std::vector<float>& shift)
{
    // Only the pointwise product reaches the output channels.
    if (!fold_affine_into_output_channels(m_activation, m_pointwise, m_bias, scale, shift))
        return false;
    pack();
    return true;
}

} // namespace atrous::infer
