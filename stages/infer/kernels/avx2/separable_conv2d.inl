// SPDX-License-Identifier: Apache-2.0
// Purpose: SeparableConv2D fused (depthwise, then the pointwise 1x1 product), written once over
// the vector traits `V` (included after depthwise_conv2d.inl and conv2d_gemm.inl). Per band of
// output rows (an L2-sized slice of the intermediate): the depthwise rows into per-thread scratch,
// then at once the pointwise GEMM of the band's pixels from it, so the intermediate never goes to
// memory. Small images (too few rows or pixels per band to feed every thread) run the two steps
// one after the other, each parallel on its own.

// No include guard: each ISA's .cpp includes this once, inside its own anonymous namespace.

template <typename V>
void separable_conv(const Conv2dShape& s, int depth_multiplier, const float* in, const float* dw,
                    const float* pw_packed, const float* bias, const Activation& act, float* out)
{
    constexpr int mr = V::gemm_mr;
    const int mid = s.in_c * depth_multiplier;
    const int rows = s.n * s.out_h;
    const std::size_t pixels = static_cast<std::size_t>(rows) * s.out_w;
    if (pixels == 0)
        return;
    Conv2dShape ds = s; // the depthwise step: dense output of `mid` channels
    ds.out_c = mid;
    ds.out_pixel_stride = 0;
    Conv2dShape ps; // the pointwise step over all pixels as one row
    ps.n = 1;
    ps.in_h = ps.out_h = 1;
    ps.in_w = ps.out_w = static_cast<int>(pixels);
    ps.in_c = mid;
    ps.out_c = s.out_c;
    ps.out_pixel_stride = s.out_pixel_stride;
    const Activation none;

    const int threads = oneapi::tbb::this_task_arena::max_concurrency();
    constexpr double k_band_bytes = 256.0 * 1024; // the band's intermediate, in L2
    const double row_bytes = 4.0 * s.out_w * mid;
    int band = std::max(1, static_cast<int>(k_band_bytes / row_bytes));
    band = std::min(band, std::max(1, rows / (2 * threads)));
    const int bands = (rows + band - 1) / band;
    const bool fuse = depth_multiplier == 1 && bands >= 2 * threads &&
                      static_cast<std::size_t>(band) * s.out_w >= 4 * static_cast<std::size_t>(mr);
    if (!fuse)
    {
        WinoScratch scratch;
        float* depth = scratch.get(pixels * mid);
        if (depth_multiplier == 1)
            depthwise_conv<V>(ds, in, dw, nullptr, none, depth);
        else
            depthwise_conv2d_tbb(ds, in, dw, nullptr, none, depth);
        gemm_conv<V>(ps, depth, pw_packed, bias, act, out);
        return;
    }

    const DepthwiseJob<V> dj{&ds, in, dw, nullptr, false, V::relu_params(0.0f, 0.0f, 0.0f)};
    const int blocks = (s.out_c + V::block - 1) / V::block;
    const std::size_t ops = s.out_stride();
    const std::size_t band_floats = (static_cast<std::size_t>(band) * s.out_w * mid + 15) / 16 * 16;
    constexpr int k_tiles_per_pass = 16;
    const std::size_t mc = static_cast<std::size_t>(k_tiles_per_pass) * mr;
    oneapi::tbb::parallel_for(
        0, bands,
        [&](int b)
        {
            float* depth = task_scratch(band_floats + mc * V::gemm_kc);
            float* panels = depth + band_floats;
            const int r0 = b * band;
            const int r1 = std::min(rows, r0 + band);
            for (int i = r0; i < r1; ++i)
                depthwise_row(dj, i, 0, mid,
                              depth + static_cast<std::size_t>(i - r0) * s.out_w * mid);
            const std::size_t band_pixels = static_cast<std::size_t>(r1 - r0) * s.out_w;
            Conv2dShape bs = ps; // this band's pixels as one row
            bs.in_w = bs.out_w = static_cast<int>(band_pixels);
            const GemmJob<V> gj{&bs,
                                depth,
                                pw_packed,
                                bias,
                                out + static_cast<std::size_t>(r0) * s.out_w * ops,
                                act.kind == ActivationKind::relu,
                                V::relu_params(act.max_value, act.negative_slope, act.threshold),
                                mid,
                                true,
                                band_pixels};
            for (std::size_t m0 = 0; m0 < band_pixels; m0 += mc)
                gemm_task(gj, m0, static_cast<int>(std::min(mc, band_pixels - m0)), 0, blocks,
                          panels);
        });
    activate_unfused(act, pixels, s.out_c, ops, out);
}
