// SPDX-License-Identifier: Apache-2.0
// Purpose: one signature per op for the engine's kernels: `<op>_ref` (plain single-threaded loops,
// the oracle) and `<op>_tbb` (TBB-parallel, same contract, runs in the caller's arena).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <ostream>
#include <vector>

namespace atrous::infer::kernels
{

enum class ActivationKind
{
    linear,
    relu,
    sigmoid,
    softmax, // over the channels of each pixel (Keras axis=-1)
    tanh
};

/// An elementwise (or per-pixel softmax) activation. `relu` follows Keras' ReLU layer:
/// f(x) = min(x, max_value) for x >= threshold, negative_slope * (x - threshold) otherwise.
struct Activation
{
    ActivationKind kind = ActivationKind::linear;
    float max_value = std::numeric_limits<float>::infinity();
    float negative_slope = 0.0f;
    float threshold = 0.0f;
};

/// Geometry of a 2-D window op over NHWC tensors: input n x in_h x in_w x in_c, output
/// n x out_h x out_w x out_c. Output pixel (oy, ox) reads input rows oy*stride_h - pad_top +
/// ky*dilation_h (ky < kh), likewise for columns; reads outside the input are zeros (conv) or
/// skipped (pooling). Conv2dTranspose uses it the other way round, see there.
struct Conv2dShape
{
    int n = 1;
    int in_h = 1;
    int in_w = 1;
    int in_c = 1;
    int out_h = 1;
    int out_w = 1;
    int out_c = 1;
    int kh = 1;
    int kw = 1;
    int stride_h = 1;
    int stride_w = 1;
    int dilation_h = 1;
    int dilation_w = 1;
    /// May be negative for the window kernels (conv2d, conv2d_bf16, conv2d_bf16_wino,
    /// depthwise_conv2d, separable_conv2d, max_pool2d: every kernels.def entry): the input is a
    /// region of a wider buffer and its first -pad_top rows / -pad_left columns are never read;
    /// likewise in_h / in_w may exceed what the last output row / column reads (the rest is never
    /// read). The result is then bitwise that of the same kernel on the input cropped to the rows
    /// and columns it reads with pad 0 there (tests/stages/infer/kernels/negative_pad_test.cpp).
    /// Conv2DTranspose kernels only ever get pad_top, pad_left >= 0.
    int pad_top = 0;
    int pad_left = 0;
    /// Distance in floats between consecutive input pixels; 0 means in_c (dense). When larger,
    /// the kernel reads channels [0, in_c) of each pixel and never the others: a layer reads a
    /// channel slice of a wider tensor (e.g. of a concatenation) by passing `in + offset`.
    int in_pixel_stride = 0;
    /// Distance in floats between consecutive output pixels; 0 means out_c (dense). When larger,
    /// the kernel writes channels [0, out_c) of each pixel and never touches the others: a layer
    /// writes straight into a channel slice of a concatenation buffer by passing `out + offset`.
    int out_pixel_stride = 0;

    /// Floats from one input / output pixel to the next.
    int in_stride() const { return in_pixel_stride > 0 ? in_pixel_stride : in_c; }
    int out_stride() const { return out_pixel_stride > 0 ? out_pixel_stride : out_c; }
    /// Dense element counts (n x h x w x c).
    std::size_t in_size() const { return static_cast<std::size_t>(n) * in_h * in_w * in_c; }
    std::size_t out_size() const { return static_cast<std::size_t>(n) * out_h * out_w * out_c; }
    /// Floats a strided input / output spans from its first pixel's channel 0 to its last
    /// pixel's last channel (== in_size() / out_size() when dense; 0 when empty).
    std::size_t in_span() const
    {
        const std::size_t px = static_cast<std::size_t>(n) * in_h * in_w;
        return px == 0 ? 0 : (px - 1) * in_stride() + in_c;
    }
    std::size_t out_span() const
    {
        const std::size_t px = static_cast<std::size_t>(n) * out_h * out_w;
        return px == 0 ? 0 : (px - 1) * out_stride() + out_c;
    }
};

std::ostream& operator<<(std::ostream& os, const Conv2dShape& s);

// All kernels: pointers are non-null unless stated, buffers do not overlap, no allocation beyond
// small scratch, no exceptions (assert only). `bias` may be nullptr (no bias).
// Pixel strides: every conv2d variant (kernels.def), depthwise_conv2d_*, conv2d_transpose_* and
// max_pool2d_* honour in_pixel_stride and out_pixel_stride of their Conv2dShape.

/// Convolution. w: HWIO (kh, kw, in_c, out_c), as Keras stores Conv2D kernels.
void conv2d_ref(const Conv2dShape& s, const float* in, const float* w, const float* bias,
                const Activation& act, float* out);
void conv2d_tbb(const Conv2dShape& s, const float* in, const float* w, const float* bias,
                const Activation& act, float* out);

/// Instruction sets a kernel variant may need (dispatch.hpp cpu_supports() tells which exist).
enum class Isa
{
    generic,
    avx2_fma,
    avx512f,     // AVX-512 Foundation (with FMA)
    avx512_bf16, // AVX-512F + BW + VL + BF16 (VDPBF16PS, VCVTNEPS2BF16)
    amx_bf16     // AMX tiles with BF16 (TDPBF16PS); no kernel yet, see kernels.def
};

/// Allocator handing out 64-byte aligned storage (a cache line; SIMD loads never split lines).
template <typename T> struct AlignedAllocator
{
    using value_type = T;
    static constexpr std::align_val_t k_alignment{64};
    AlignedAllocator() = default;
    template <typename U> AlignedAllocator(const AlignedAllocator<U>&) noexcept {}
    T* allocate(std::size_t count)
    {
        return static_cast<T*>(::operator new(count * sizeof(T), k_alignment));
    }
    void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, k_alignment); }
    template <typename U> bool operator==(const AlignedAllocator<U>&) const noexcept
    {
        return true;
    }
};

/// Weights in a kernel variant's own layout, made once when a layer is loaded.
using PackedWeights = std::vector<float, AlignedAllocator<float>>;

/// Every conv2d variant (kernels.def) has a packer and a kernel with these signatures. The packer
/// reads kh, kw, in_c, out_c, strides and dilations of `s` (the spatial sizes are unknown at load
/// time) and HWIO weights; the kernel has conv2d_ref's contract with the packed weights. Kernels
/// named `_tbb`/`_avx2_*` parallelize with TBB in the caller's arena.
using Conv2dPackFn = PackedWeights (*)(const Conv2dShape& s, const float* hwio);
using Conv2dFn = void (*)(const Conv2dShape& s, const float* in, const float* packed_w,
                          const float* bias, const Activation& act, float* out);

/// HWIO weights in blocks of `block` output channels: [ceil(out_c/block)][kh][kw][in_c][block],
/// the last block zero-padded (the direct SIMD kernels' layout; generic code, see packing.cpp).
/// Where narrow_applies(s), followed by [out_c][kh][kw][in_c] (the narrow kernel's rows).
PackedWeights pack_cout_blocks(const Conv2dShape& s, const float* hwio, int block);
/// At most this many output channels (and at least 8 input channels): the SIMD variants' direct
/// path runs per-pixel dot products over the input channels (conv2d_gemm.inl, "narrow") instead
/// of the GEMM, whose register tiles would be mostly padding (e.g. a final 64 -> 2 classes conv).
constexpr int k_narrow_max_out_channels = 4;
bool narrow_applies(const Conv2dShape& s);

/// Winograd F(4x4, 3x3) is used for 3x3 and F(3x3, 2x2) for 2x2 stride-1 convolutions (any
/// dilation and padding) with at least this many input and output channels (fewer: the
/// transforms cost more than they save).
constexpr int k_winograd_min_channels = 16;
/// True when the `_wino` variants run `s` with Winograd (else with their direct kernel); depends
/// only on the fields the packers see.
bool winograd_applies(const Conv2dShape& s);
/// Winograd-domain weights U = G g G^T of every (in, out) channel pair: [a*a points (a = 6 for
/// 3x3, 4 for 2x2; row major)][ceil(out_c/block)][in_c][block], the last block zero-padded
/// (generic code).
PackedWeights pack_winograd(const Conv2dShape& s, const float* hwio, int block);

PackedWeights conv2d_ref_pack(const Conv2dShape& s, const float* hwio); // HWIO copy
PackedWeights conv2d_tbb_pack(const Conv2dShape& s, const float* hwio); // HWIO copy
/// AVX2+FMA direct convolution as a cache-blocked GEMM (M = output pixels, K = taps x in_c,
/// conv2d_gemm.inl): 6 output pixels x 16 output channels in 12 ymm accumulators.
/// Packed layout: [out_c/16 blocks][kh][kw][in_c][16], the last block zero-padded.
PackedWeights conv2d_avx2_6x16_pack(const Conv2dShape& s, const float* hwio);
void conv2d_avx2_6x16(const Conv2dShape& s, const float* in, const float* packed_w,
                      const float* bias, const Activation& act, float* out);
/// AVX-512F direct convolution as a cache-blocked GEMM: 14 output pixels x 32 output channels in
/// 28 zmm accumulators. Packed layout: [out_c/32 blocks][kh][kw][in_c][32], the last block
/// zero-padded.
PackedWeights conv2d_avx512_8x32_pack(const Conv2dShape& s, const float* hwio);
void conv2d_avx512_8x32(const Conv2dShape& s, const float* in, const float* packed_w,
                        const float* bias, const Activation& act, float* out);

/// The direct kernels above for most shapes, Winograd where winograd_applies(): one GEMM per
/// transform point with the same register tiles, transforms fused around them. Packed layout:
/// pack_winograd() where Winograd applies, else the direct variant's.
PackedWeights conv2d_avx2_wino_pack(const Conv2dShape& s, const float* hwio);
void conv2d_avx2_wino(const Conv2dShape& s, const float* in, const float* packed_w,
                      const float* bias, const Activation& act, float* out);
PackedWeights conv2d_avx512_wino_pack(const Conv2dShape& s, const float* hwio);
void conv2d_avx512_wino(const Conv2dShape& s, const float* in, const float* packed_w,
                        const float* bias, const Activation& act, float* out);

/// bfloat16: the upper 16 bits of an fp32 (8 exponent bits, 7 stored mantissa bits).
/// to_bf16 rounds to nearest even and flushes denormals to zero (as VCVTNEPS2BF16 does); NaN
/// stays a (quiet) NaN.
inline std::uint16_t to_bf16(float x)
{
    std::uint32_t u;
    std::memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) // NaN: keep it one after dropping the low bits
        return static_cast<std::uint16_t>((u >> 16) | 0x0040u);
    if ((u & 0x7f800000u) == 0) // denormal: zero, as VCVTNEPS2BF16 (which ignores MXCSR) does
        return static_cast<std::uint16_t>((u >> 16) & 0x8000u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<std::uint16_t>(u >> 16);
}
inline float bf16_to_float(std::uint16_t b)
{
    const std::uint32_t u = static_cast<std::uint32_t>(b) << 16;
    float x;
    std::memcpy(&x, &u, 4);
    return x;
}
/// x rounded to the nearest bf16 value, as an fp32.
inline float round_to_bf16(float x)
{
    return bf16_to_float(to_bf16(x));
}

/// bf16 convolutions (BuildOptions::precision bf16; kernels.def op conv2d_bf16): weights and
/// inputs rounded to bf16 (nearest even), products summed in fp32; bias and activation in fp32.
/// Same Conv2dPackFn / Conv2dFn signatures and pixel-stride contract as conv2d; the packed
/// weights are opaque (bf16 pairs in the float slots for the SIMD variants).
/// The portable oracle: conv2d_ref on bf16-rounded inputs and HWIO weights (packed: the weights
/// rounded, as floats). Plain loops, every machine: the SIMD variants are tested against it.
PackedWeights conv2d_bf16_ref_pack(const Conv2dShape& s, const float* hwio);
void conv2d_bf16_ref(const Conv2dShape& s, const float* in, const float* packed_w,
                     const float* bias, const Activation& act, float* out);
/// Weights for the VDPBF16PS GEMM: K = taps x in_c padded to even, blocks of `block` output
/// channels: [ceil(out_c/block)][K/2][block] floats, each holding the bf16 pair (k even in the
/// low half, k + 1 in the high half) of one output channel; the last block zero-padded.
PackedWeights pack_bf16_pairs(const Conv2dShape& s, const float* hwio, int block);
/// AVX-512 BF16 direct convolution as a cache-blocked GEMM (conv2d_gemm.inl's structure):
/// inputs converted to bf16 while the A panels are packed, 14 output pixels x 32 output
/// channels in 28 zmm fp32 accumulators, one VDPBF16PS per pixel, vector and pair of K.
PackedWeights conv2d_avx512bf16_14x32_pack(const Conv2dShape& s, const float* hwio);
void conv2d_avx512bf16_14x32(const Conv2dShape& s, const float* in, const float* packed_w,
                             const float* bias, const Activation& act, float* out);

/// bf16 Winograd (kernels.def op conv2d_bf16_wino; BuildOptions::bf16_winograd): where
/// bf16_winograd_applies(s), F(2x2, 3x3) (2x2 kernels: F(2x2, 2x2)): input transform in fp32, the
/// transformed inputs and weights (U = G g G^T, computed in double at load) rounded to bf16
/// (nearest even), one GEMM per transform point summing the exact products in fp32, the output
/// transform, bias and activation in fp32. Every other shape: the direct bf16 convolution
/// (conv2d_bf16). F(2x2, 3x3) because its transforms only add: the values rounded to bf16 are at
/// most 4x the inputs, and its error is ~1.5x a direct bf16 convolution's (F(4x4, 3x3): ~9x;
/// bench/README.md, "bf16"). The result of an output pixel depends on where its 2 x 2 tile starts
/// (tiles start at output 0 of each dilation sub-lattice): equal across crops only when they are
/// offset by multiples of 2 x dilation. 3x3 or 2x2, stride 1, at least k_winograd_min_channels
/// input and output channels, an even number of input channels (the GEMM reads input-channel
/// pairs).
bool bf16_winograd_applies(const Conv2dShape& s);
/// [a*a points (a = 4 for 3x3, 3 for 2x2)][ceil(out_c/block)][in_c/2][block] floats holding bf16
/// pairs of U (channel 2i in
/// the low half), the last block zero-padded (generic code).
PackedWeights pack_winograd_bf16_pairs(const Conv2dShape& s, const float* hwio, int block);
/// U rounded to bf16, as floats: [a*a points][in_c][out_c] (the oracle's layout).
PackedWeights winograd_bf16_rounded(const Conv2dShape& s, const float* hwio);
/// The portable oracle (plain loops, fp32 sums in channel order; conv2d_bf16_ref elsewhere).
PackedWeights conv2d_bf16_wino_ref_pack(const Conv2dShape& s, const float* hwio);
void conv2d_bf16_wino_ref(const Conv2dShape& s, const float* in, const float* packed_w,
                          const float* bias, const Activation& act, float* out);
/// AVX-512 BF16: avx2/conv2d_winograd.inl over zmm with the transformed inputs stored as bf16 and
/// a 14 tiles x 32 channels VDPBF16PS register tile; conv2d_avx512bf16_14x32 elsewhere.
PackedWeights conv2d_avx512bf16_wino_pack(const Conv2dShape& s, const float* hwio);
void conv2d_avx512bf16_wino(const Conv2dShape& s, const float* in, const float* packed_w,
                            const float* bias, const Activation& act, float* out);

/// Depthwise convolution, out_c = in_c * depth_multiplier; output channel ci*dm + m.
/// w: (kh, kw, in_c, dm), as Keras stores depthwise_kernel (no packing). Every variant
/// (kernels.def op depthwise_conv2d) has this signature (DepthwiseFn).
void depthwise_conv2d_ref(const Conv2dShape& s, const float* in, const float* w, const float* bias,
                          const Activation& act, float* out);
void depthwise_conv2d_tbb(const Conv2dShape& s, const float* in, const float* w, const float* bias,
                          const Activation& act, float* out);
/// SIMD register tiles of 8 output pixels x one vector of channels, every tap summed before one
/// store, bias and ReLU fused; depth multiplier > 1 runs depthwise_conv2d_tbb.
void depthwise_conv2d_avx2(const Conv2dShape& s, const float* in, const float* w, const float* bias,
                           const Activation& act, float* out);
void depthwise_conv2d_avx512(const Conv2dShape& s, const float* in, const float* w,
                             const float* bias, const Activation& act, float* out);
using DepthwiseFn = void (*)(const Conv2dShape& s, const float* in, const float* w,
                             const float* bias, const Activation& act, float* out);

/// SeparableConv2D (Keras): depthwise with `dw` (kh, kw, in_c, depth_multiplier), no bias, no
/// activation, then the pointwise product with (in_c * depth_multiplier, out_c) weights, `bias`
/// and `act`. `s` is the depthwise window geometry with in_c the input's channels and out_c the
/// layer's filters; in_pixel_stride and out_pixel_stride apply to the layer's input and output.
/// The pointwise weights are packed once by the variant's packer (SeparablePackFn, which reads
/// in_c and out_c of `s`). Every variant (kernels.def op separable_conv2d) has these signatures.
using SeparablePackFn = PackedWeights (*)(const Conv2dShape& s, int depth_multiplier,
                                          const float* pointwise);
using SeparableFn = void (*)(const Conv2dShape& s, int depth_multiplier, const float* in,
                             const float* dw, const float* pw_packed, const float* bias,
                             const Activation& act, float* out);
/// Portable: depthwise_conv2d_tbb into scratch, then conv2d_tbb as a 1x1 convolution.
PackedWeights separable_conv2d_tbb_pack(const Conv2dShape& s, int depth_multiplier,
                                        const float* pointwise);
void separable_conv2d_tbb(const Conv2dShape& s, int depth_multiplier, const float* in,
                          const float* dw, const float* pw_packed, const float* bias,
                          const Activation& act, float* out);
/// SIMD, fused: per band of output rows the depthwise result goes to L2-sized scratch and the
/// pointwise GEMM (conv2d_gemm.inl) consumes it at once; pointwise packed as
/// pack_cout_blocks(block 16 | 32).
PackedWeights separable_conv2d_avx2_pack(const Conv2dShape& s, int depth_multiplier,
                                         const float* pointwise);
void separable_conv2d_avx2(const Conv2dShape& s, int depth_multiplier, const float* in,
                           const float* dw, const float* pw_packed, const float* bias,
                           const Activation& act, float* out);
PackedWeights separable_conv2d_avx512_pack(const Conv2dShape& s, int depth_multiplier,
                                           const float* pointwise);
void separable_conv2d_avx512(const Conv2dShape& s, int depth_multiplier, const float* in,
                             const float* dw, const float* pw_packed, const float* bias,
                             const Activation& act, float* out);

/// Transposed convolution (the gradient of conv2d): input pixel (iy, ix) adds
/// in * w[ky][kx][ci][co] to output (iy*stride_h - pad_top + ky*dilation_h, ...), positions
/// outside the output dropped. w: (kh, kw, in_c, out_c) (the layer repacks Keras' (kh,kw,out,in)).
void conv2d_transpose_ref(const Conv2dShape& s, const float* in, const float* w, const float* bias,
                          const Activation& act, float* out);
void conv2d_transpose_tbb(const Conv2dShape& s, const float* in, const float* w, const float* bias,
                          const Activation& act, float* out);

/// Max pooling over the window (dilation 1), padded positions ignored; in_c == out_c.
void max_pool2d_ref(const Conv2dShape& s, const float* in, float* out);
void max_pool2d_tbb(const Conv2dShape& s, const float* in, float* out);

/// Nearest-neighbour upsampling: out (n, h*fy, w*fx, c), out[y][x] = in[y/fy][x/fx].
void upsample_nearest_ref(int n, int h, int w, int c, int fy, int fx, const float* in, float* out);
void upsample_nearest_tbb(int n, int h, int w, int c, int fy, int fx, const float* in, float* out);

/// Dense over the last axis: rows x in_c times w (in_c, out_c) -> rows x out_c.
void dense_ref(std::size_t rows, int in_c, int out_c, const float* in, const float* w,
               const float* bias, const Activation& act, float* out);
void dense_tbb(std::size_t rows, int in_c, int out_c, const float* in, const float* w,
               const float* bias, const Activation& act, float* out);

/// Channel concatenation of `count` inputs of `pixels` pixels; input k has channels[k].
void concat_channels_ref(std::size_t pixels, int count, const float* const* in, const int* channels,
                         float* out);
void concat_channels_tbb(std::size_t pixels, int count, const float* const* in, const int* channels,
                         float* out);

/// Elementwise sum of `count` same-sized inputs.
void add_ref(std::size_t size, int count, const float* const* in, float* out);
void add_tbb(std::size_t size, int count, const float* const* in, float* out);

/// Per-channel affine (an unfolded BatchNormalization): out = in * scale[c] + shift[c].
void affine_ref(std::size_t pixels, int channels, const float* in, const float* scale,
                const float* shift, float* out);
void affine_tbb(std::size_t pixels, int channels, const float* in, const float* scale,
                const float* shift, float* out);

/// In-place activation of `pixels` pixels of `channels` channels.
void activation_ref(const Activation& act, std::size_t pixels, int channels, float* data);
void activation_tbb(const Activation& act, std::size_t pixels, int channels, float* data);

/// The activation of one pixel's channels, shared by every kernel family (the math is the
/// same; only the loops around it differ).
void activate_pixel(const Activation& act, int channels, float* data);

} // namespace atrous::infer::kernels
