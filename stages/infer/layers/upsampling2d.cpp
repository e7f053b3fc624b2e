// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras UpSampling2D (nearest): each pixel repeated size times along y and x.

#include "upsampling2d.hpp"

#include "stages/infer/engine/keras_config.hpp"
#include "stages/infer/kernels/kernels.hpp"

namespace atrous::infer
{

UpSampling2d::UpSampling2d(const LayerSpec& spec, const std::vector<Shape>& inputs)
    : Layer(spec.name, spec.class_name)
{
    const KerasConfig config(spec.config, spec.name);
    config.require_channels_last();
    std::tie(m_fy, m_fx) = config.pair("size", {2, 2});
    if (m_fy < 1 || m_fx < 1)
        config.fail("size", "positive factors");
    if (config.string("interpolation", "nearest") != "nearest")
        config.fail("interpolation", "'nearest' (bilinear is not supported)");
    output_shape(inputs);
}

Shape UpSampling2d::output_shape(const std::vector<Shape>& inputs) const
{
    expect_inputs(inputs, 1);
    const Shape& in = inputs[0];
    return Shape{in.n, in.h * m_fy, in.w * m_fx, in.c};
}

void UpSampling2d::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                           KernelKind kernels) const
{
    const Shape& in = inputs[0]->shape();
    if (kernels == KernelKind::reference)
        kernels::upsample_nearest_ref(in.n, in.h, in.w, in.c, m_fy, m_fx, inputs[0]->data(),
                                      output.data());
    else
        kernels::upsample_nearest_tbb(in.n, in.h, in.w, in.c, m_fy, m_fx, inputs[0]->data(),
                                      output.data());
}

RowMap UpSampling2d::axis_map(const std::vector<Shape>& inputs, Axis axis) const
{
    RowMap m = RowMap::of(RowMap::Kind::upsample);
    m.factor = axis == Axis::y ? m_fy : m_fx;
    return m;
}

Field UpSampling2d::field(const std::vector<Field>& inputs) const
{
    // Conservative: an output pixel may sit anywhere within its source pixel's block.
    Field f = inputs.at(0);
    const auto up = [](AxisField a, int factor)
    {
        a.scale /= factor;
        a.before += a.scale * (factor - 1);
        a.after += a.scale * (factor - 1);
        return a;
    };
    f.y = up(f.y, m_fy);
    f.x = up(f.x, m_fx);
    return f;
}

} // namespace atrous::infer
