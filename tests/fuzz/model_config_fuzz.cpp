// SPDX-License-Identifier: Apache-2.0
// Purpose: libFuzzer target for the Keras `model_config` JSON: text -> ModelSpec (parse, layers,
// wiring, topological sort: cycles and unknown inbound layers).
#include "stages/infer/import/keras_config.hpp"
#include "tests/fuzz/fuzz_guard.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string text(reinterpret_cast<const char*>(data), size);
    atrous::fuzz::expect_only_atrous_errors("model_config_fuzz",
                                            [&]
                                            {
                                                const atrous::infer::ModelSpec spec =
                                                    atrous::infer::spec_from_model_config_text(
                                                        text, "fuzz.h5");
                                                (void)spec;
                                            });
    return 0;
}
