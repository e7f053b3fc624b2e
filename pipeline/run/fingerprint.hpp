// SPDX-License-Identifier: Apache-2.0
// Purpose: the identity of a run's result (input file, raster, model, tile grid and every config
// key that changes the output), recorded in the output so that a partial file is resumed only by
// the same run.
#pragma once

#include "pipeline/config/config.hpp"
#include "pipeline/run/tile_plan.hpp"
#include "stages/tile.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace atrous
{

using Fingerprint = std::vector<std::pair<std::string, std::string>>;

/// Inputs made of several files (a VRT's sources, a GeoTIFF's .ovr/.msk): more than the .vrt
/// itself changes the pixels. At most this many members get a field each; more are one digest.
constexpr std::size_t max_listed_members = 64;

/// The files GDAL lists for the input other than the input itself (GDALGetFileList), as absolute
/// paths, without *.aux.xml; empty when GDAL cannot open it.
std::vector<std::string> input_member_files(const std::string& path);

/// Appends the member fields (see make_fingerprint) to `f`: one "input.member <path>" each when
/// there are at most `max_listed`, else one "input.members" digest.
void add_member_fields(const std::vector<std::string>& members, std::size_t max_listed,
                       Fingerprint& f);

/// The content sample: ranges of this many bytes (GDAL's /vsicurl/ chunk size) spread evenly
/// over a file, first and last included, at most sample_ranges_per_file per file (1 MiB) and
/// sample_ranges_total (4 MiB) over the input and its members together.
constexpr std::size_t sample_range_bytes = 16 * 1024;
constexpr std::size_t sample_ranges_per_file = 64;
constexpr std::size_t sample_ranges_total = 256;

/// The (offset, length) ranges sampled from a file of `size` bytes: the whole file when it is
/// at most `count` ranges long, else `count` disjoint ranges evenly spaced from 0 to
/// size - range, all but the last aligned to the range size.
std::vector<std::pair<std::uint64_t, std::size_t>> sample_ranges(std::uint64_t size, int count);

/// Hex SHA-256 of the size and `ranges` sampled ranges of the file's bytes, read through GDAL's
/// virtual file system (one batch of range reads, so /vsicurl/ and /vsis3/ fetch only those
/// bytes). Members of /vsizip/ and /vsigzip/ are sampled in their archive. "not a file" when
/// it does not exist, "unreadable: <GDAL's message>" when reading fails.
std::string content_sample(const std::string& path, int ranges);

/// Appends one "input.sample <path>" field (content_sample) for the input and for each member
/// when there are at most `max_listed` members; else the input's and one
/// "input.members.sample" digest over an evenly spread subset of the members.
void add_sample_fields(const std::string& input, const std::vector<std::string>& members,
                       std::size_t max_listed, Fingerprint& f);

/// Fields, in order: input.file (size in bytes and modification time: ns for a local file,
/// seconds from VSIStatL for a /vsi path), one
/// "input.member <path>" per other file GDAL lists for the input (GDALGetFileList; size and
/// modification time, or "missing"; *.aux.xml metadata sidecars left out) or, above
/// max_listed_members, one "input.members" digest of them all, the content samples
/// (add_sample_fields: a file rewritten in place with its size and time kept, as `cp -p` or
/// rsync do, changes them), input.raster (size, bands),
/// model.sha256, tile.grid (tile size, halo, columns x rows), then every key of
/// `effective.normalized_yaml()` flattened to dotted names ("input.normalize.scale"), except the
/// keys that do not change the datasets: output.path, output.compression,
/// output.compression_level, model.weights (the sha256 stands for it) and runtime.* except
/// runtime.precision (bf16 changes the numbers).
Fingerprint make_fingerprint(const RunConfig& effective, const RasterInfo& info,
                             const std::string& model_sha256, const TilePlan& plan);

} // namespace atrous
