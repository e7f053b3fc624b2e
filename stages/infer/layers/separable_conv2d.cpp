// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras SeparableConv2D: config, weights, shapes; runs depthwise into a scratch tensor,
// then the pointwise product as a 1x1 convolution (the fast conv2d variant; dense_ref for the
// reference kernels).

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
    m_fast = &kernels::conv2d_fast();
    pack();
}

kernels::Conv2dShape SeparableConv2d::pointwise_shape(const Shape& out) const
{
    kernels::Conv2dShape s;
    s.n = out.n;
    s.in_h = s.out_h = out.h;
    s.in_w = s.out_w = out.w;
    s.in_c = m_in_c * m_multiplier;
    s.out_c = m_out_c;
    return s;
}

void SeparableConv2d::pack()
{
    m_packed = m_fast->pack(pointwise_shape(Shape{}), m_pointwise.data());
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
    const Shape& in = inputs[0]->shape();
    const Shape& out = output.shape();
    const int mid = m_in_c * m_multiplier;
    Tensor depth(Shape{out.n, out.h, out.w, mid});
    const kernels::Conv2dShape s = window_shape(in, depth.shape(), m_wy, m_wx);
    const std::size_t pixels = static_cast<std::size_t>(out.n) * out.h * out.w;
    const float* bias = m_bias.empty() ? nullptr : m_bias.data();
    const kernels::Activation none;
    if (kernels == KernelKind::reference)
    {
        kernels::depthwise_conv2d_ref(s, inputs[0]->data(), m_depthwise.data(), nullptr, none,
                                      depth.data());
        kernels::dense_ref(pixels, mid, m_out_c, depth.data(), m_pointwise.data(), bias,
                           m_activation, output.data());
    }
    else
    {
        kernels::depthwise_conv2d_tbb(s, inputs[0]->data(), m_depthwise.data(), nullptr, none,
                                      depth.data());
        m_fast->run(pointwise_shape(out), depth.data(), m_packed.data(), bias, m_activation,
                    output.data());
    }
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
