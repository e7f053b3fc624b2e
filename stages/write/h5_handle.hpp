// SPDX-License-Identifier: Apache-2.0
// Purpose: checked HDF5 calls of the write stage: a failure throws OutputError with the library's
// own error stack, never printing it (the handle itself: platform/h5_handle.hpp).
#pragma once

#include "platform/h5_handle.hpp"

#include <hdf5.h>

#include <string>

namespace atrous::h5
{

/// Throws OutputError(where, what + ": " + error_stack()) when id < 0; else returns it owned.
Handle check(hid_t id, const std::string& where, const std::string& what);
/// Throws OutputError when status < 0.
void check(herr_t status, const std::string& where, const std::string& what);

} // namespace atrous::h5
