// SPDX-License-Identifier: Apache-2.0
// Purpose: the 16-lane zmm vector traits the avx2/*.inl templates run on, shared by the AVX-512F
// kernels (avx512/) and the AVX-512 BF16 Winograd (avx512bf16/).

// No include guard: each ISA's .cpp includes this once, inside its own anonymous namespace.

struct Zmm
{
    using Reg = __m512;
    static constexpr int lanes = 16;
    static constexpr int block = 32;    // output channels per packed block: NV = 2
    static constexpr int mr = 8;        // Winograd GEMM tile: 8 x 2 accumulators of the 32 zmm
    static constexpr int gemm_mr = 14;  // GEMM register tile rows (conv2d_gemm.inl)
    static constexpr int gemm_kc = 192; // K block: a [192][block] weight panel stays in L1
    static constexpr int dw_mr = 8;     // depthwise register tile: output pixels of one vector

    struct Relu
    {
        __m512 max_value, slope, threshold;
    };
    static Relu relu_params(float max_value, float slope, float threshold)
    {
        return {_mm512_set1_ps(max_value), _mm512_set1_ps(slope), _mm512_set1_ps(threshold)};
    }
    static __mmask16 mask(int count) // first `count` lanes (clamped to 0..16)
    {
        count = std::clamp(count, 0, 16);
        return static_cast<__mmask16>((1u << count) - 1u);
    }
    static __m512 zero() { return _mm512_setzero_ps(); }
    static __m512 load(const float* p) { return _mm512_load_ps(p); }
    static __m512 loadu(const float* p) { return _mm512_loadu_ps(p); }
    static __m512 set1(float x) { return _mm512_set1_ps(x); }
    static __m512 add(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
    static __m512 sub(__m512 a, __m512 b) { return _mm512_sub_ps(a, b); }
    static __m512 mul(__m512 a, __m512 b) { return _mm512_mul_ps(a, b); }
    static __m512 fnmadd(__m512 a, __m512 b, __m512 c) { return _mm512_fnmadd_ps(a, b, c); }
    static __m512 broadcast(const float* p) { return _mm512_set1_ps(*p); }
    static __m512 fmadd(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
    static __m512 load_partial(const float* p, int count)
    {
        return _mm512_maskz_loadu_ps(mask(count), p);
    }
    static void store(float* p, __m512 v) { _mm512_storeu_ps(p, v); }
    static void storeu(float* p, __m512 v) { _mm512_storeu_ps(p, v); }
    static void store_partial(float* p, int count, __m512 v)
    {
        _mm512_mask_storeu_ps(p, mask(count), v);
    }
    static float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }
    /// Keras ReLU: min(x, max) for x >= threshold, slope * (x - threshold) otherwise.
    static __m512 relu(__m512 x, const Relu& r)
    {
        const __m512 pos = _mm512_min_ps(x, r.max_value);
        const __m512 neg = _mm512_mul_ps(r.slope, _mm512_sub_ps(x, r.threshold));
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, r.threshold, _CMP_GE_OQ), neg, pos);
    }
};
