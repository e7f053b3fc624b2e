// SPDX-License-Identifier: Apache-2.0
#include "pipeline/version.hpp"

namespace atrous
{
std::string_view version()
{
    return ATROUS_VERSION;
}
} // namespace atrous
