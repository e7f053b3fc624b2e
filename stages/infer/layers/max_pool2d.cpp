// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras MaxPooling2D: config, shapes (TensorFlow windowing rules), kernel call.

#include "max_pool2d.hpp"

#include "stages/infer/engine/keras_config.hpp"
#include "stages/infer/kernels/kernels.hpp"
#include "stages/infer/layers/window_shape.hpp"

namespace atrous::infer
{

MaxPool2d::MaxPool2d(const LayerSpec& spec, const std::vector<Shape>& inputs)
    : Layer(spec.name, spec.class_name)
{
    const KerasConfig config(spec.config, spec.name);
    config.require_channels_last();
    const auto [ph, pw] = config.pair("pool_size", {2, 2});
    const auto [sh, sw] = config.pair("strides", {ph, pw}); // Keras: strides=None -> pool_size
    if (ph < 1 || pw < 1)
        config.fail("pool_size", "positive sizes");
    if (sh < 1 || sw < 1)
        config.fail("strides", "positive strides");
    const bool same = config.same_padding();
    m_wy = Window1d{ph, sh, 1, same};
    m_wx = Window1d{pw, sw, 1, same};
    output_shape(inputs);
}

Shape MaxPool2d::output_shape(const std::vector<Shape>& inputs) const
{
    expect_inputs(inputs, 1);
    return window_output(inputs[0], m_wy, m_wx, inputs[0].c);
}

void MaxPool2d::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                        KernelKind kernels) const
{
    forward_rows(inputs, output, kernels, m_wy.pad_before(inputs[0]->shape().h),
                 m_wx.pad_before(inputs[0]->shape().w));
}

void MaxPool2d::forward_rows(const std::vector<const Tensor*>& inputs, Tensor& output,
                             KernelKind kernels, int pad_top, int pad_left) const
{
    const Shape& in = inputs[0]->shape();
    const Shape& out = output.shape();
    kernels::Conv2dShape s =
        with_pixel_strides(window_shape(in, out, m_wy, m_wx), *inputs[0], output);
    s.pad_top = pad_top;
    s.pad_left = pad_left;
    if (kernels == KernelKind::reference)
        kernels::max_pool2d_ref(s, inputs[0]->data(), output.data());
    else
        kernels::max_pool2d_tbb(s, inputs[0]->data(), output.data());
}

RowMap MaxPool2d::axis_map(const std::vector<Shape>& inputs, Axis axis) const
{
    return window_axis_map(m_wy, m_wx, inputs.at(0), axis);
}

Field MaxPool2d::field(const std::vector<Field>& inputs) const
{
    Field f = inputs.at(0);
    f.y = extend_by_window(f.y, m_wy.k, m_wy.pad_before(0), m_wy.stride);
    f.x = extend_by_window(f.x, m_wx.k, m_wx.pad_before(0), m_wx.stride);
    return f;
}

} // namespace atrous::infer
