// SPDX-License-Identifier: Apache-2.0
// Purpose: the `atrous` command line (placeholder until pipeline/cli lands).
#include "stages/error.hpp"

#include <cstdio>

int main()
{
    std::puts("atrous " ATROUS_VERSION);
    return 0;
}
