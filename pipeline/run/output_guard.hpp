// SPDX-License-Identifier: Apache-2.0
// Purpose: before a run or a preview writes anything: no file it creates may be a file it reads
// (the input, every file GDAL lists for it, the model), compared by device + inode, not by
// spelling; the names of the report and the preview must be free for atrous (stages/write/
// safe_file.hpp).
#pragma once

#include "stages/write/safe_file.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace atrous
{

/// A file and what it is to the run, for messages ("the input", "its quick-look PNG").
struct NamedFile
{
    std::filesystem::path path;
    std::string role;
    /// For a created file: what the user can do when it is a file the run reads.
    std::string remedy = "choose another output.path";
};

/// What `atrous run` creates for `output`: the output, its lock, partial, staging and packing
/// files, the run report and, when `preview`, the quick-look PNG (each with its ".partial").
std::vector<NamedFile> files_created_by_run(const std::filesystem::path& output, bool preview);

/// What a run reads: the input and every file GDAL lists for it (VRT sources, .aux.xml, .ovr,
/// .msk, world files), and the model's weights when `model` is not empty.
std::vector<NamedFile> files_read_by_run(const std::string& input,
                                         const std::filesystem::path& model);

/// Throws ConfigError(where, "<created> (<role>) is the same file as <read> (<role>)...") when a
/// name in `created` names an existing file that is one in `read` (same device and inode: through
/// symlinks, symlinked directories and hard links alike).
void refuse_overwriting(const std::vector<NamedFile>& created, const std::vector<NamedFile>& read,
                        const std::string& where);

/// The run report's and (when `preview`) the quick-look's names, checked before the run as the
/// writer checks its own: the final names absent or regular files, their ".partial" absent or a
/// leftover of atrous. Throws OutputError naming the file.
void check_side_files(const std::filesystem::path& output, bool preview);

/// Leftovers of atrous at the report's and the preview's temporary names.
const safe_file::Recognizer& json_leftover();
const safe_file::Recognizer& png_leftover();

} // namespace atrous
