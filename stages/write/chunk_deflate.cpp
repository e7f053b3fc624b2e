// SPDX-License-Identifier: Apache-2.0
// Purpose: shuffle + deflate of one chunk, as HDF5's H5Z_filter_shuffle and H5Z_filter_deflate
// (hdf5 1.10 src/H5Zshuffle.c, H5Zdeflate.c) compute it.
#include "chunk_deflate.hpp"

#include "stages/error.hpp"

#include <cmath>
#include <string>
#include <zlib.h>

namespace atrous
{

std::vector<std::uint8_t> shuffle_deflate(const std::uint8_t* data, std::size_t bytes,
                                          std::size_t element_size, int level)
{
    std::vector<std::uint8_t> shuffled;
    const std::uint8_t* source = data;
    const std::size_t elements = element_size > 0 ? bytes / element_size : 0;
    if (element_size > 1 && elements > 1)
    {
        shuffled.resize(bytes);
        for (std::size_t k = 0; k < element_size; ++k)
            for (std::size_t e = 0; e < elements; ++e)
                shuffled[k * elements + e] = data[e * element_size + k];
        for (std::size_t b = elements * element_size; b < bytes; ++b)
            shuffled[b] = data[b];
        source = shuffled.data();
    }
    // HDF5's output bound (H5Z_filter_deflate): ceil(nbytes * 1.001) + 12, always enough.
    uLongf size = static_cast<uLongf>(std::ceil(static_cast<double>(bytes) * 1.001)) +
                  static_cast<uLongf>(12);
    std::vector<std::uint8_t> out(size);
    const int status = compress2(out.data(), &size, source, static_cast<uLong>(bytes), level);
    if (status != Z_OK)
        throw OutputError("write.hdf5", "deflate of a " + std::to_string(bytes) +
                                            " byte chunk failed (zlib status " +
                                            std::to_string(status) + ")");
    out.resize(size);
    return out;
}

} // namespace atrous
