// SPDX-License-Identifier: Apache-2.0
// Purpose: Keras Concatenate over channels; inputs must share batch, height and width.

#include "concatenate.hpp"

#include "stages/infer/engine/keras_config.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <sstream>

namespace atrous::infer
{

void expect_same_grid(const Layer& layer, const std::vector<Shape>& inputs, bool channels_too)
{
    if (inputs.size() < 2)
        throw ModelError("layer " + layer.name(),
                         "2 or more inputs expected, " + std::to_string(inputs.size()) + " found");
    const auto differ = [](int a, int b) { return a != 0 && b != 0 && a != b; };
    for (const Shape& s : inputs)
        if (differ(s.n, inputs[0].n) || differ(s.h, inputs[0].h) || differ(s.w, inputs[0].w) ||
            (channels_too && s.c != inputs[0].c))
        {
            std::ostringstream text;
            text << "inputs of matching " << (channels_too ? "shapes" : "batch, height and width")
                 << " expected, found";
            for (const Shape& t : inputs)
                text << " " << t;
            throw ModelError("layer " + layer.name(), text.str());
        }
}

Concatenate::Concatenate(const LayerSpec& spec, const std::vector<Shape>& inputs)
    : Layer(spec.name, spec.class_name)
{
    const KerasConfig config(spec.config, spec.name);
    const int axis = config.integer("axis", -1);
    if (axis != -1 && axis != 3)
        config.fail("axis", "-1 or 3 (channels)");
    output_shape(inputs);
}

Shape Concatenate::output_shape(const std::vector<Shape>& inputs) const
{
    expect_same_grid(*this, inputs, false);
    Shape out = inputs[0];
    out.c = 0;
    for (const Shape& s : inputs)
        out.c += s.c;
    return out;
}

void Concatenate::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                          KernelKind kernels) const
{
    const Shape& out = output.shape();
    const std::size_t pixels = static_cast<std::size_t>(out.n) * out.h * out.w;
    // The engine's plan may have had some producers write their output in place into their
    // slice; only the other inputs are copied, one channel slice at a time.
    int offset = 0;
    for (const Tensor* t : inputs)
    {
        float* slice = output.data() + offset;
        const int channels = t->shape().c;
        offset += channels;
        if (t->data() == slice && t->pixel_stride() == output.pixel_stride())
            continue; // already in place
        const int in_stride = t->pixel_stride();
        const int out_stride = output.pixel_stride();
        const float* src = t->data();
        const auto copy = [&](std::size_t begin, std::size_t end)
        {
            for (std::size_t p = begin; p < end; ++p)
                std::copy_n(src + p * in_stride, channels, slice + p * out_stride);
        };
        if (kernels == KernelKind::reference)
            copy(0, pixels);
        else
            oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<std::size_t>(0, pixels, 1024),
                                      [&](const oneapi::tbb::blocked_range<std::size_t>& r)
                                      { copy(r.begin(), r.end()); });
    }
}

} // namespace atrous::infer
