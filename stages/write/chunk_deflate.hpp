// SPDX-License-Identifier: Apache-2.0
// Purpose: the bytes HDF5's shuffle + deflate filters store for one chunk, computed outside HDF5 so
// that the published file's chunks are compressed on many threads and written with
// H5Dwrite_chunk (the same bytes as H5Dwrite through the filters: tests/stages/write).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace atrous
{

/// HDF5's shuffle filter (H5Z shuffle: the k-th bytes of all elements, then the (k+1)-th, ...;
/// trailing bytes that make no whole element stay last; elements of one byte unchanged), then its
/// deflate filter (zlib compress2 at `level`, 1..9). `bytes`: the whole chunk, fill included.
std::vector<std::uint8_t> shuffle_deflate(const std::uint8_t* data, std::size_t bytes,
                                          std::size_t element_size, int level);

} // namespace atrous
