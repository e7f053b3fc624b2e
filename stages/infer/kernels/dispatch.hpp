// SPDX-License-Identifier: Apache-2.0
// Purpose: the kernel variant table built from kernels.def, and the choice of the fastest variant
// the running CPU supports (made once per process; the portable TBB path is the fallback).
#pragma once

#include "stages/infer/kernels/cpu_features.hpp"
#include "stages/infer/kernels/kernels.hpp"

#include <span>
#include <string>
#include <string_view>

namespace atrous::infer::kernels
{

struct Conv2dVariant
{
    std::string_view name; // kernels.def name column: "ref", "tbb", "avx2_6x16"
    Isa isa;
    Conv2dPackFn pack;
    Conv2dFn run;
};

/// Every conv2d entry of kernels.def, in its order (the reference first).
std::span<const Conv2dVariant> conv2d_variants();

/// The last conv2d variant in kernels.def the CPU supports: what KernelKind::fast runs.
const Conv2dVariant& conv2d_fast();

/// Every conv2d_bf16 entry of kernels.def (conv2d_bf16_ref first) and the last one the CPU
/// supports (conv2d_bf16_ref where it has no bf16 instructions: correct, but slow).
std::span<const Conv2dVariant> conv2d_bf16_variants();
const Conv2dVariant& conv2d_bf16_fast();
/// Every conv2d_bf16_wino entry of kernels.def (conv2d_bf16_wino_ref first) and the last one the
/// CPU supports.
std::span<const Conv2dVariant> conv2d_bf16_wino_variants();
const Conv2dVariant& conv2d_bf16_wino_fast();

struct DepthwiseVariant
{
    std::string_view name;
    Isa isa;
    DepthwiseFn run;
};

/// Every depthwise_conv2d entry of kernels.def (the reference first) and the fastest supported.
std::span<const DepthwiseVariant> depthwise_variants();
const DepthwiseVariant& depthwise_fast();

struct SeparableVariant
{
    std::string_view name;
    Isa isa;
    SeparablePackFn pack;
    SeparableFn run;
};

/// Every separable_conv2d entry of kernels.def (the portable one first) and the fastest
/// supported.
std::span<const SeparableVariant> separable_variants();
const SeparableVariant& separable_fast();

} // namespace atrous::infer::kernels
