// SPDX-License-Identifier: Apache-2.0
// Purpose: the direct NHWC convolution shared by the SIMD variants, written once over a vector
// traits type `V` (lanes, load, broadcast, fmadd, masked load/store, relu). Included by each
// ISA's translation unit after it defines its traits; compiled with that ISA's flags only.
// A register tile holds MR consecutive output pixels x NV vectors of output channels and sums
// every tap and input channel before one store, with bias and ReLU in the epilogue. Pixels in
// the padding read a row of zeros, so one code path covers any kernel, stride and dilation.

// No include guard: each ISA's .cpp includes this once, inside its own anonymous namespace.

constexpr int k_chunk = 1024;                  // input channels per pass: the zero row's length
alignas(64) const float k_zeros[k_chunk] = {}; // read in place of pixels in the padding

template <typename V> struct DirectJob
{
    const Conv2dShape* s;
    const float* image; // this image's input
    const float* packed;
    const float* bias;
    bool relu;
    typename V::Relu relu_params;
};

/// MR output pixels (row oy, columns ox0..ox0+MR-1) x NV vectors of channels of cout block `cb`
/// (`nc` of them valid) into `out` (pixel ox0, channel cb * V::block).
template <typename V, int MR, int NV>
void direct_tile(const DirectJob<V>& job, int oy, int ox0, int cb, int nc, float* out)
{
    using Reg = typename V::Reg;
    constexpr int nr = V::block;
    const Conv2dShape& s = *job.s;
    Reg acc[MR][NV];
    {
        Reg b[NV];
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v)
            b[v] = job.bias ? V::load_partial(job.bias + cb * nr + V::lanes * v, nc - V::lanes * v)
                            : V::zero();
#pragma GCC unroll 16
        for (int p = 0; p < MR; ++p)
#pragma GCC unroll 16
            for (int v = 0; v < NV; ++v)
                acc[p][v] = b[v];
    }
    const std::size_t ips = s.in_stride();
    const std::size_t in_row = static_cast<std::size_t>(s.in_w) * ips;
    const std::size_t tap_size = static_cast<std::size_t>(s.in_c) * nr;
    const float* wblock = job.packed + static_cast<std::size_t>(cb) * s.kh * s.kw * tap_size;
    for (int ky = 0; ky < s.kh; ++ky)
    {
        const int iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
        if (iy < 0 || iy >= s.in_h)
            continue;
        const float* row = job.image + iy * in_row;
        for (int kx = 0; kx < s.kw; ++kx)
        {
            int ix[MR];
            bool any = false;
#pragma GCC unroll 16
            for (int p = 0; p < MR; ++p)
            {
                ix[p] = (ox0 + p) * s.stride_w - s.pad_left + kx * s.dilation_w;
                any = any || (ix[p] >= 0 && ix[p] < s.in_w);
            }
            if (!any)
                continue;
            const float* wtap = wblock + (static_cast<std::size_t>(ky) * s.kw + kx) * tap_size;
            for (int c0 = 0; c0 < s.in_c; c0 += k_chunk)
            {
                const int cn = std::min(k_chunk, s.in_c - c0);
                const float* src[MR];
#pragma GCC unroll 16
                for (int p = 0; p < MR; ++p)
                    src[p] = ix[p] >= 0 && ix[p] < s.in_w
                                 ? row + static_cast<std::size_t>(ix[p]) * ips + c0
                                 : k_zeros;
                const float* w = wtap + static_cast<std::size_t>(c0) * nr;
                for (int ci = 0; ci < cn; ++ci, w += nr)
                {
                    Reg wv[NV];
#pragma GCC unroll 16
                    for (int v = 0; v < NV; ++v)
                        wv[v] = V::load(w + V::lanes * v);
#pragma GCC unroll 16
                    for (int p = 0; p < MR; ++p)
                    {
                        const Reg a = V::broadcast(src[p] + ci);
#pragma GCC unroll 16
                        for (int v = 0; v < NV; ++v)
                            acc[p][v] = V::fmadd(a, wv[v], acc[p][v]);
                    }
                }
            }
        }
    }
#pragma GCC unroll 16
    for (int p = 0; p < MR; ++p)
    {
        float* o = out + static_cast<std::size_t>(p) * s.out_stride();
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v)
        {
            const Reg r = job.relu ? V::relu(acc[p][v], job.relu_params) : acc[p][v];
            const int valid = nc - V::lanes * v;
            if (valid >= V::lanes)
                V::store(o + V::lanes * v, r);
            else if (valid > 0)
                V::store_partial(o + V::lanes * v, valid, r);
        }
    }
}

/// One output row of cout block `cb`: full MR tiles, then the remainder tile.
template <typename V, int NV, int MR = V::mr, int R = V::mr - 1>
void direct_row(const DirectJob<V>& job, int oy, int cb, int nc, float* orow)
{
    const Conv2dShape& s = *job.s;
    float* o = orow + cb * V::block;
    int ox = 0;
    for (; ox + MR <= s.out_w; ox += MR)
        direct_tile<V, MR, NV>(job, oy, ox, cb, nc,
                               o + static_cast<std::size_t>(ox) * s.out_stride());
    const int rest = s.out_w - ox;
    float* o_rest = o + static_cast<std::size_t>(ox) * s.out_stride();
    // Dispatch the remainder 1..MR-1 to its compile-time tile.
    [&]<int... I>(std::integer_sequence<int, I...>)
    {
        ((rest == I + 1 ? direct_tile<V, I + 1, NV>(job, oy, ox, cb, nc, o_rest) : void()), ...);
    }
    (std::make_integer_sequence<int, R>{});
}

template <typename V>
void direct_conv(const Conv2dShape& s, const float* in, const float* packed_w, const float* bias,
                 const Activation& act, float* out)
{
    const bool fused = act.kind == ActivationKind::linear || act.kind == ActivationKind::relu;
    const DirectJob<V> job{&s,
                           in,
                           packed_w,
                           bias,
                           act.kind == ActivationKind::relu,
                           V::relu_params(act.max_value, act.negative_slope, act.threshold)};
    const int blocks = (s.out_c + V::block - 1) / V::block;
    const int rows = s.n * s.out_h;
    const std::size_t in_image = static_cast<std::size_t>(s.in_h) * s.in_w * s.in_stride();
    const std::size_t out_row = static_cast<std::size_t>(s.out_w) * s.out_stride();
    // Tasks are (cout blocks) x (output rows); a task sweeps its rows per block, so one block's
    // weights stay in cache across the rows.
    oneapi::tbb::parallel_for(oneapi::tbb::blocked_range2d<int>(0, blocks, 0, rows),
                              [&](const oneapi::tbb::blocked_range2d<int>& r)
                              {
                                  DirectJob<V> local = job;
                                  for (int cb = r.rows().begin(); cb != r.rows().end(); ++cb)
                                  {
                                      const int nc = std::min(V::block, s.out_c - cb * V::block);
                                      for (int i = r.cols().begin(); i != r.cols().end(); ++i)
                                      {
                                          local.image = in + (i / s.out_h) * in_image;
                                          float* orow = out + static_cast<std::size_t>(i) * out_row;
                                          if (nc > V::lanes)
                                              direct_row<V, 2>(local, i % s.out_h, cb, nc, orow);
                                          else
                                              direct_row<V, 1>(local, i % s.out_h, cb, nc, orow);
                                      }
                                  }
                              });
    if (!fused) // softmax, sigmoid, tanh: a second pass once every channel of a pixel is there
        oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<int>(0, rows),
                                  [&](const oneapi::tbb::blocked_range<int>& r)
                                  {
                                      for (int i = r.begin(); i != r.end(); ++i)
                                          for (int x = 0; x < s.out_w; ++x)
                                              activate_pixel(act, s.out_c,
                                                             out + i * out_row +
                                                                 static_cast<std::size_t>(x) *
                                                                     s.out_stride());
                                  });
}
