// SPDX-License-Identifier: Apache-2.0
// Purpose: weight packing for the SIMD kernels, compiled without ISA flags: packing runs once at
// load, and template code instantiated in an -mavx* translation unit must not be shared (the
// linker keeps one copy of each inline function, possibly the one with AVX-512 instructions).

#include "stages/infer/kernels/kernels.hpp"

namespace atrous::infer::kernels
{

PackedWeights pack_cout_blocks(const Conv2dShape& s, const float* hwio, int block)
{
    const int blocks = (s.out_c + block - 1) / block;
    const int taps = s.kh * s.kw;
    const std::size_t k = static_cast<std::size_t>(taps) * s.in_c;
    const std::size_t main = static_cast<std::size_t>(blocks) * k * block;
    PackedWeights packed(main + (narrow_applies(s) ? k * s.out_c : 0), 0.0f);
    if (narrow_applies(s))
        for (int co = 0; co < s.out_c; ++co)
            for (std::size_t i = 0; i < k; ++i)
                packed[main + co * k + i] = hwio[i * s.out_c + co];
    for (int cb = 0; cb < blocks; ++cb)
        for (int t = 0; t < taps; ++t)
            for (int ci = 0; ci < s.in_c; ++ci)
                for (int j = 0; j < block && cb * block + j < s.out_c; ++j)
                    packed[((static_cast<std::size_t>(cb) * taps + t) * s.in_c + ci) * block + j] =
                        hwio[(static_cast<std::size_t>(t) * s.in_c + ci) * s.out_c + cb * block +
                             j];
    return packed;
}

PackedWeights pack_bf16_pairs(const Conv2dShape& s, const float* hwio, int block)
{
    const int blocks = (s.out_c + block - 1) / block;
    const std::size_t k = static_cast<std::size_t>(s.kh) * s.kw * s.in_c;
    const std::size_t pairs = (k + 1) / 2;
    PackedWeights packed(static_cast<std::size_t>(blocks) * pairs * block, 0.0f);
    for (int cb = 0; cb < blocks; ++cb)
        for (std::size_t i = 0; i < k; ++i)
            for (int j = 0; j < block && cb * block + j < s.out_c; ++j)
            {
                const std::uint32_t h = to_bf16(hwio[i * s.out_c + cb * block + j]);
                float& slot = packed[(cb * pairs + i / 2) * block + j];
                std::uint32_t u;
                std::memcpy(&u, &slot, 4);
                u |= i % 2 ? h << 16 : h; // k even: the low half (VDPBF16PS' element 2j)
                std::memcpy(&slot, &u, 4);
            }
    return packed;
}

} // namespace atrous::infer::kernels

namespace atrous::infer::kernels
{

bool narrow_applies(const Conv2dShape& s)
{
    return s.out_c <= k_narrow_max_out_channels && s.in_c >= 8;
}

bool winograd_applies(const Conv2dShape& s)
{
    return ((s.kh == 3 && s.kw == 3) || (s.kh == 2 && s.kw == 2)) && s.stride_h == 1 &&
           s.stride_w == 1 && s.in_c >= k_winograd_min_channels &&
           s.out_c >= k_winograd_min_channels;
}

namespace
{

// G of F(4x4, 3x3) (Lavin & Gray), of F(2x2, 3x3) and of F(3x3, 2x2) (points 0, 1, -1, inf).
constexpr double k_g43[6][3] = {{1.0 / 4, 0, 0},
                                {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                {0, 0, 1}};
constexpr double k_g23[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
constexpr double k_g32[4][3] = {{-1, 0, 0}, {0.5, 0.5, 0}, {0.5, -0.5, 0}, {0, 1, 0}};
constexpr double k_g22[3][3] = {{1, 0, 0}, {1, 1, 0}, {0, 1, 0}}; // F(2x2, 2x2)

/// Calls put(point, ci, co, u) for every Winograd-domain weight U = G g G^T (a x a points, row
/// major) of the r x r HWIO kernel, computed in double.
template <typename Put>
void winograd_weights(const Conv2dShape& s, const float* hwio, const double (*g_mat)[3], int a,
                      Put put)
{
    const int r = s.kh;
    for (int ci = 0; ci < s.in_c; ++ci)
        for (int co = 0; co < s.out_c; ++co)
        {
            double g[3][3] = {};
            for (int ky = 0; ky < r; ++ky)
                for (int kx = 0; kx < r; ++kx)
                    g[ky][kx] =
                        hwio[((static_cast<std::size_t>(ky) * r + kx) * s.in_c + ci) * s.out_c +
                             co];
            double gg[6][3] = {}; // G g
            for (int i = 0; i < a; ++i)
                for (int kx = 0; kx < r; ++kx)
                    for (int ky = 0; ky < r; ++ky)
                        gg[i][kx] += g_mat[i][ky] * g[ky][kx];
            for (int i = 0; i < a; ++i)
                for (int j = 0; j < a; ++j)
                {
                    double u = 0.0;
                    for (int kx = 0; kx < r; ++kx)
                        u += gg[i][kx] * g_mat[j][kx];
                    put(i * a + j, ci, co, u);
                }
        }
}

} // namespace

PackedWeights pack_winograd(const Conv2dShape& s, const float* hwio, int block)
{
    const int a = s.kh == 3 ? 6 : 4;
    const int blocks = (s.out_c + block - 1) / block;
    const std::size_t ldm = static_cast<std::size_t>(blocks) * block;
    PackedWeights packed(static_cast<std::size_t>(a) * a * s.in_c * ldm, 0.0f);
    winograd_weights(
        s, hwio, s.kh == 3 ? k_g43 : k_g32, a,
        [&](int p, int ci, int co, double u)
        {
            packed[((static_cast<std::size_t>(p) * blocks + co / block) * s.in_c + ci) * block +
                   co % block] = static_cast<float>(u); // rounded once
        });
    return packed;
}

bool bf16_winograd_applies(const Conv2dShape& s)
{
    return ((s.kh == 3 && s.kw == 3) || (s.kh == 2 && s.kw == 2)) && s.stride_h == 1 &&
           s.stride_w == 1 && s.in_c >= k_winograd_min_channels &&
           s.out_c >= k_winograd_min_channels && s.in_c % 2 == 0;
}

PackedWeights pack_winograd_bf16_pairs(const Conv2dShape& s, const float* hwio, int block)
{
    const int blocks = (s.out_c + block - 1) / block;
    const std::size_t pairs = static_cast<std::size_t>(s.in_c) / 2;
    const int a = s.kh == 3 ? 4 : 3;
    PackedWeights packed(static_cast<std::size_t>(a) * a * blocks * pairs * block, 0.0f);
    winograd_weights(
        s, hwio, s.kh == 3 ? k_g23 : k_g22, a,
        [&](int p, int ci, int co, double u)
        {
            // Rounded once: double -> fp32 (nearest) -> bf16 (nearest even).
            const std::uint32_t h = to_bf16(static_cast<float>(u));
            float& slot =
                packed[((static_cast<std::size_t>(p) * blocks + co / block) * pairs + ci / 2) *
                           block +
                       co % block];
            std::uint32_t bits;
            std::memcpy(&bits, &slot, 4);
            bits |= ci % 2 ? h << 16 : h; // even channel in the low half
            std::memcpy(&slot, &bits, 4);
        });
    return packed;
}

PackedWeights winograd_bf16_rounded(const Conv2dShape& s, const float* hwio)
{
    const int a = s.kh == 3 ? 4 : 3;
    PackedWeights u(static_cast<std::size_t>(a) * a * s.in_c * s.out_c, 0.0f);
    winograd_weights(s, hwio, s.kh == 3 ? k_g23 : k_g22, a,
                     [&](int p, int ci, int co, double v)
                     {
                         u[(static_cast<std::size_t>(p) * s.in_c + ci) * s.out_c + co] =
                             round_to_bf16(static_cast<float>(v));
                     });
    return u;
}

} // namespace atrous::infer::kernels
