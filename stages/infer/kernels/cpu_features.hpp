// SPDX-License-Identifier: Apache-2.0
// Purpose: what the running CPU can execute (instruction sets of the kernel variants), apart from
// the variant table so that code outside the engine (the config check of runtime.precision)
// needs no kernels.
#pragma once

#include "stages/infer/kernels/kernels.hpp"

#include <string>
#include <string_view>

namespace atrous::infer::kernels
{

/// True when the running CPU has the instructions `isa` needs (generic: always).
bool cpu_supports(Isa isa);
std::string_view isa_name(Isa isa);
/// "" when the CPU runs bf16 convolutions in hardware, else what it lacks (one clause, for
/// the error of a config that asks for bf16).
std::string bf16_missing_feature();

} // namespace atrous::infer::kernels
