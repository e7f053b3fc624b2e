// SPDX-License-Identifier: Apache-2.0
// Purpose: libFuzzer target for the Keras HDF5 loader: the input is written to a file (the loader
// reads HDF5 by path) and loaded as model weights (model.save or save_weights layout, or Keras 3's
// .keras zip or .weights.h5, told apart by content) with the graph of its model_config.
#include "stages/infer/import/keras_h5.hpp"
#include "tests/fuzz/fuzz_guard.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace
{

/// One file per process, rewritten for every input.
const std::filesystem::path& input_path()
{
    static const std::filesystem::path path =
        std::filesystem::temp_directory_path() /
        ("atrous_keras_h5_fuzz." + std::to_string(::getpid()) + ".h5");
    return path;
}

/// The save_weights seeds (tests/fuzz/corpus/keras_h5/*weights*) hold this U-Net's weights
/// (tools/make_fuzz_seeds.py): one level, one filter, four convolutions.
atrous::infer::UnetArchitecture tiny_unet()
{
    atrous::infer::UnetArchitecture a;
    a.filters = 1;
    a.depth = 1;
    a.dilation = {1};
    return a;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    {
        std::ofstream out(input_path(), std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
        if (!out)
        {
            std::fprintf(stderr, "keras_h5_fuzz: cannot write %s\n", input_path().c_str());
            std::abort();
        }
    }
    atrous::fuzz::expect_only_atrous_errors(
        "keras_h5_fuzz",
        [&]
        {
            const atrous::infer::ModelSpec spec = atrous::infer::load_keras_h5(
                input_path(), atrous::infer::Architecture(tiny_unet()));
            (void)spec;
        });
    std::error_code ec;
    std::filesystem::remove(input_path(), ec);
    return 0;
}
