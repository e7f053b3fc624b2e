// SPDX-License-Identifier: Apache-2.0
// Purpose: GDAL dataset names that are not paths of this machine's file system (/vsicurl/,
// /vsis3/, /vsizip/, ...): recognised, kept verbatim, and stat()ed through GDAL's virtual file
// system (VSIStatL) instead of the operating system.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace atrous
{

/// True for a name GDAL resolves through its virtual file systems ("/vsicurl/https://h/x.tif",
/// "/vsis3/bucket/key.tif", "/vsizip/a.zip/b.tif", "/vsigzip/x.tif.gz", ...). Such a name is
/// never normalized or made absolute ("https://" must keep its two slashes) nor stat()ed.
bool is_gdal_virtual_path(std::string_view path);

/// Size and modification time of one file, local or virtual.
struct FileStat
{
    long long size = 0;
    /// Local files: seconds.nanoseconds (stat); virtual files: seconds, from VSIStatL (for
    /// /vsicurl/, /vsis3/, ...: the server's Last-Modified; 0 when it sends none).
    std::string modified;
};

/// The file's size and time (stat() for a local path, VSIStatL for a /vsi path; for
/// /vsicurl/ a HEAD request); nullopt when it does not exist or cannot be reached.
std::optional<FileStat> stat_file(const std::string& path);

/// Whether `path` names an existing file or directory (stat() or VSIStatL, as stat_file).
bool path_exists(const std::string& path);

} // namespace atrous
