// SPDX-License-Identifier: Apache-2.0
// Purpose: libFuzzer target for the YAML run configuration: the input is the YAML text, and the
// bytes after its first NUL are `--set key=value` overrides, one per line.
#include "pipeline/config/config.hpp"
#include "tests/fuzz/fuzz_guard.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto nul = input.find('\0');
    const std::string_view yaml = input.substr(0, nul);
    std::vector<std::string> overrides;
    if (nul != std::string_view::npos)
    {
        std::string_view rest = input.substr(nul + 1);
        while (!rest.empty())
        {
            const auto eol = rest.find('\n');
            overrides.emplace_back(rest.substr(0, eol));
            rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
        }
    }
    // Fixed CPUs: no /proc or cgroup reads per input (and results independent of the machine).
    static const atrous::UsableCpus cpus{8, ""};
    atrous::fuzz::expect_only_atrous_errors("config_fuzz",
                                            [&]
                                            {
                                                const atrous::RunConfig config =
                                                    atrous::parse_config(yaml, "fuzz.yaml", "/fuzz",
                                                                         overrides, "2", &cpus);
                                                (void)config.normalized_yaml();
                                            });
    return 0;
}
