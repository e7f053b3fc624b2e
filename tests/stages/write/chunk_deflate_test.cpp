// SPDX-License-Identifier: Apache-2.0
// Purpose: shuffle_deflate gives, byte for byte, the chunks HDF5's own shuffle + deflate filters
// store (read back raw with H5Dread_chunk), for full and edge chunks (the fill value outside the
// dataset), one-byte and four-byte elements, every level the writer allows; without filters a
// stored chunk is the chunk filled outside the dataset (what publishing writes for
// output.compression: none).
#include "stages/write/chunk_deflate.hpp"
#include "stages/write/h5_handle.hpp"
#include "tests/stages/read/scratch_dir.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <random>
#include <vector>
#include <zlib.h>

namespace
{

using namespace atrous;

/// Writes `data` (dims) through H5Dwrite into a dataset chunked by `chunk` with shuffle + deflate
/// at `level` (none: no filters) and fill `fill`, then checks every chunk's stored bytes against
/// shuffle_deflate of the chunk as HDF5 filled it (no filters: that chunk's bytes).
template <class T>
void expect_filter_bytes(hid_t file, const char* name, hid_t type, const std::vector<hsize_t>& dims,
                         const std::vector<hsize_t>& chunk, T fill, std::optional<int> level,
                         const std::vector<T>& data)
{
    const int rank = static_cast<int>(dims.size());
    h5::Handle space = h5::check(H5Screate_simple(rank, dims.data(), nullptr), "test", "space");
    h5::Handle dcpl = h5::check(H5Pcreate(H5P_DATASET_CREATE), "test", "dcpl");
    h5::check(H5Pset_chunk(dcpl.get(), rank, chunk.data()), "test", "chunk");
    if (level)
    {
        h5::check(H5Pset_shuffle(dcpl.get()), "test", "shuffle");
        h5::check(H5Pset_deflate(dcpl.get(), static_cast<unsigned>(*level)), "test", "deflate");
    }
    h5::check(H5Pset_fill_value(dcpl.get(), type, &fill), "test", "fill");
    h5::check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_IFSET), "test", "fill time");
    h5::Handle set =
        h5::check(H5Dcreate2(file, name, type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                  "test", "create");
    h5::check(H5Dwrite(set.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), "test",
              "write");
    h5::check(H5Fflush(file, H5F_SCOPE_LOCAL), "test", "flush");

    // Rows and columns are the last two dims; the leading one (if any) is a plane.
    const hsize_t planes = rank == 3 ? dims[0] : 1;
    const hsize_t h = dims[rank - 2], w = dims[rank - 1];
    const hsize_t ch = chunk[rank - 2], cw = chunk[rank - 1];
    int checked = 0;
    for (hsize_t p = 0; p < planes; ++p)
        for (hsize_t y = 0; y < h; y += ch)
            for (hsize_t x = 0; x < w; x += cw)
            {
                std::vector<T> raw(ch * cw, fill);
                for (hsize_t r = 0; r < ch && y + r < h; ++r)
                    for (hsize_t c = 0; c < cw && x + c < w; ++c)
                        raw[r * cw + c] = data[(p * h + y + r) * w + x + c];
                const auto* bytes = reinterpret_cast<const std::uint8_t*>(raw.data());
                const std::size_t size = raw.size() * sizeof(T);
                const std::vector<std::uint8_t> want =
                    level ? shuffle_deflate(bytes, size, sizeof(T), *level)
                          : std::vector<std::uint8_t>(bytes, bytes + size);
                std::vector<hsize_t> offset =
                    rank == 3 ? std::vector<hsize_t>{p, y, x} : std::vector<hsize_t>{y, x};
                hsize_t stored = 0;
                h5::check(H5Dget_chunk_storage_size(set.get(), offset.data(), &stored), "test",
                          "chunk size");
                std::vector<std::uint8_t> got(stored);
                std::uint32_t mask = 0xffffffff;
                h5::check(H5Dread_chunk(set.get(), H5P_DEFAULT, offset.data(), &mask, got.data()),
                          "test", "read chunk");
                EXPECT_EQ(mask, 0u) << name << " chunk at " << p << "," << y << "," << x;
                EXPECT_EQ(got, want) << name << " chunk at " << p << "," << y << "," << x
                                     << " (level " << level.value_or(0) << ")";
                ++checked;
            }
    EXPECT_GT(checked, 4);
}

TEST(ChunkDeflate, EqualsHdf5FiltersForFullAndEdgeChunksAndNoneStoresTheFilledChunk)
{
    test::ScratchDir dir;
    h5::Handle file =
        h5::check(H5Fcreate((dir / "f.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                  "test", "create");
    std::mt19937 rng(3);
    // A mask-like plane (runs of a few values, compressible) and probabilities.
    const std::vector<hsize_t> dims2{37, 50};
    std::vector<std::uint8_t> mask(37 * 50);
    for (std::size_t i = 0; i < mask.size(); ++i)
        mask[i] = static_cast<std::uint8_t>((i / 7 + rng() % 2) % 3);
    const std::vector<hsize_t> dims3{2, 37, 50};
    std::vector<float> prob(2 * 37 * 50);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (float& v : prob)
        v = u(rng);
    for (std::optional<int> level : {std::optional<int>(), std::optional<int>(1),
                                     std::optional<int>(4), std::optional<int>(9)})
    {
        const std::string l = level ? std::to_string(*level) : "none";
        expect_filter_bytes<std::uint8_t>(file.get(), ("mask" + l).c_str(), H5T_NATIVE_UINT8, dims2,
                                          {16, 16}, 255, level, mask);
        expect_filter_bytes<float>(file.get(), ("prob" + l).c_str(), H5T_NATIVE_FLOAT, dims3,
                                   {1, 16, 16}, std::nanf(""), level, prob);
    }
}

TEST(ChunkDeflate, ShuffleKeepsTrailingBytes)
{
    // 10 bytes of 4-byte elements: two whole elements shuffled, the last 2 bytes kept in place;
    // the deflated stream inflates back to that.
    const std::vector<std::uint8_t> in{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    const std::vector<std::uint8_t> packed = shuffle_deflate(in.data(), in.size(), 4, 4);
    std::vector<std::uint8_t> back(in.size());
    uLongf size = back.size();
    ASSERT_EQ(uncompress(back.data(), &size, packed.data(), packed.size()), Z_OK);
    EXPECT_EQ(back, (std::vector<std::uint8_t>{1, 5, 2, 6, 3, 7, 4, 8, 9, 10}));
}

} // namespace
