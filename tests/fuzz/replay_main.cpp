// SPDX-License-Identifier: Apache-2.0
// Purpose: the replay driver of a fuzz target for builds without libFuzzer (gcc, release, ASan):
// runs LLVMFuzzerTestOneInput once over every file under the directories given (the committed
// corpus and regressions), so every CI build replays them. A bad input aborts (fuzz_guard.hpp).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv)
{
    namespace fs = std::filesystem;
    std::vector<fs::path> files;
    for (int i = 1; i < argc; ++i)
    {
        std::error_code ec;
        if (fs::is_regular_file(argv[i], ec))
            files.emplace_back(argv[i]);
        else if (fs::is_directory(argv[i], ec))
            for (const auto& entry : fs::recursive_directory_iterator(argv[i]))
                if (entry.is_regular_file() && entry.path().filename() != ".gitkeep")
                    files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty())
    {
        std::fprintf(stderr, "replay: no input files under the paths given\n");
        return 1;
    }
    for (const fs::path& file : files)
    {
        std::ifstream in(file, std::ios::binary);
        if (!in)
        {
            std::fprintf(stderr, "replay: cannot read %s\n", file.c_str());
            return 1;
        }
        const std::vector<char> bytes{std::istreambuf_iterator<char>(in),
                                      std::istreambuf_iterator<char>()};
        std::fprintf(stderr, "replay: %s (%zu bytes)\n", file.c_str(), bytes.size());
        LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    }
    std::printf("replay: %zu inputs, no undocumented failure\n", files.size());
    return 0;
}
