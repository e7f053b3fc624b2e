// SPDX-License-Identifier: Apache-2.0
// Purpose: the write stage's checked HDF5 calls (OutputError with HDF5's error stack).
#include "h5_handle.hpp"

#include "stages/error.hpp"

namespace atrous::h5
{

Handle check(hid_t id, const std::string& where, const std::string& what)
{
    if (id < 0)
    {
        const std::string stack = error_stack();
        throw OutputError(where, stack.empty() ? what : what + ": " + stack);
    }
    return Handle(id);
}

void check(herr_t status, const std::string& where, const std::string& what)
{
    if (status < 0)
    {
        const std::string stack = error_stack();
        throw OutputError(where, stack.empty() ? what : what + ": " + stack);
    }
}

} // namespace atrous::h5
