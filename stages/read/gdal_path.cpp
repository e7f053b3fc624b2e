// SPDX-License-Identifier: Apache-2.0
// Purpose: /vsi dataset names: recognition and VSIStatL-based file identity.
#include "gdal_path.hpp"

#include "stages/read/gdal_error.hpp"

#include <cpl_vsi.h>
#include <fmt/format.h>

#include <sys/stat.h>

namespace atrous
{

bool is_gdal_virtual_path(std::string_view path)
{
    return path.rfind("/vsi", 0) == 0;
}

std::optional<FileStat> stat_file(const std::string& path)
{
    if (is_gdal_virtual_path(path))
    {
        gdal_register_once();     // the network file systems read their options from GDAL's config
        GdalErrorCollector quiet; // absent or unreachable: the caller says so in its own words
        VSIStatBufL st{};
        if (VSIStatExL(path.c_str(), &st, VSI_STAT_EXISTS_FLAG | VSI_STAT_SIZE_FLAG) != 0)
            return std::nullopt;
        return FileStat{static_cast<long long>(st.st_size),
                        fmt::format("{}", static_cast<long long>(st.st_mtime))};
    }
    // Local files keep stat()'s nanoseconds, which VSIStatL drops: a file rewritten within the
    // same second still shows a new time.
    struct stat st
    {
    };
    if (::stat(path.c_str(), &st) != 0)
        return std::nullopt;
    return FileStat{static_cast<long long>(st.st_size),
                    fmt::format("{}.{:09d}", static_cast<long long>(st.st_mtim.tv_sec),
                                static_cast<long>(st.st_mtim.tv_nsec))};
}

bool path_exists(const std::string& path)
{
    if (is_gdal_virtual_path(path))
    {
        gdal_register_once();
        GdalErrorCollector quiet;
        VSIStatBufL st{};
        return VSIStatExL(path.c_str(), &st, VSI_STAT_EXISTS_FLAG) == 0;
    }
    struct stat st
    {
    };
    return ::stat(path.c_str(), &st) == 0;
}

} // namespace atrous
