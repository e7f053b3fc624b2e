// SPDX-License-Identifier: Apache-2.0
// Purpose: the kernels' Conv2dShape of a sliding-window layer (convolutions, pooling), built in one
// place from its input and output shapes and its two window axes.
#pragma once

#include "stages/infer/engine/row_map.hpp"
#include "stages/infer/engine/tensor.hpp"
#include "stages/infer/kernels/kernels.hpp"

namespace atrous::infer
{

/// `Window` is Window1d or Conv2dTranspose::Axis1d: k, stride, dilation and pad_before(input
/// length).
template <class Window>
kernels::Conv2dShape window_shape(const Shape& in, const Shape& out, const Window& y,
                                  const Window& x)
{
    return kernels::Conv2dShape{in.n,
                                in.h,
                                in.w,
                                in.c,
                                out.h,
                                out.w,
                                out.c,
                                y.k,
                                x.k,
                                y.stride,
                                x.stride,
                                y.dilation,
                                x.dilation,
                                y.pad_before(in.h),
                                x.pad_before(in.w)};
}

/// The stream's map (RowMap::window) of a sliding-window layer along `axis`, for full-size input
/// `in`: the window of that axis over its length.
inline RowMap window_axis_map(const Window1d& y, const Window1d& x, const Shape& in, Axis axis)
{
    return axis == Axis::y ? RowMap::window(y, in.h) : RowMap::window(x, in.w);
}

/// `s` reading `in` and writing `out` with their pixel strides (0 where contiguous): the layers
/// whose kernels honour Conv2dShape's pixel strides pass views of channel slices this way.
inline kernels::Conv2dShape with_pixel_strides(kernels::Conv2dShape s, const Tensor& in,
                                               const Tensor& out)
{
    s.in_pixel_stride = in.contiguous() ? 0 : in.pixel_stride();
    s.out_pixel_stride = out.contiguous() ? 0 : out.pixel_stride();
    return s;
}

} // namespace atrous::infer
