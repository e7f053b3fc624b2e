// SPDX-License-Identifier: Apache-2.0
// Purpose: factory of the write stage; the pipeline builds writers only through this function.
#pragma once

#include "stages/stage.hpp"
#include "stages/write/write_options.hpp"

#include <memory>

namespace atrous
{

/// `write.hdf5`: one HDF5 file at options.path, written as "<path>.partial" and renamed to <path>
/// by finish() once every tile of the layout's grid was written. prepare() creates the file and
/// throws OutputError("write.hdf5", "<dir>: not writable" ...) before any work. write() is
/// thread-safe (calls are serialized: the HDF5 library is not).
std::unique_ptr<Writer> make_hdf5_writer(const WriteOptions& options, const OutputLayout& layout);

} // namespace atrous
