// SPDX-License-Identifier: Apache-2.0
// Purpose: the atrous version string, recorded in every output's provenance.
#pragma once

#include <string_view>

namespace atrous
{
std::string_view version();
}
