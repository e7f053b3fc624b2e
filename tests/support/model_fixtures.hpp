// SPDX-License-Identifier: Apache-2.0
// Purpose: the model fixtures' paths and the message of a ModelError, for the import tests.
#pragma once

#include "stages/error.hpp"

#include <filesystem>
#include <string>

namespace atrous::test
{

/// tests/fixtures/models/<name>.
inline std::filesystem::path fixture(const std::string& name)
{
    return std::filesystem::path(ATROUS_FIXTURES_DIR) / "models" / name;
}

/// Runs `f` and returns the ModelError's message ("" when it did not throw one).
template <typename F> std::string model_error(F&& f)
{
    try
    {
        f();
    }
    catch (const ModelError& e)
    {
        return e.what();
    }
    return "";
}

} // namespace atrous::test
