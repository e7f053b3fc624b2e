// SPDX-License-Identifier: Apache-2.0
// Purpose: the JSON run report written next to the output ("<output stem>.report.json"): tiles,
// time per stage, throughput, peak memory, threads and ranks.
#pragma once

#include "pipeline/run/run_outcome.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>

namespace atrous
{

/// "<dir>/<stem>.report.json" for an output path.
std::filesystem::path default_report_path(const std::filesystem::path& output);

/// Peak resident set size of this process in bytes (getrusage).
long long peak_rss_bytes();

/// The report as JSON. Keys: atrous_version, input, output, tiles {total, done, skipped_empty},
/// seconds {wall, read, infer, stitch, write, progress} (stage times summed over tiles: infer runs
/// on several threads, read in tile order on one at a time; progress = fsync + tile_done marks,
/// part of write, rank 0's), progress_fraction (progress / wall), infer_busy (infer / (wall x
/// threads)), throughput {mpx_per_s, gflop_per_s, tiles_per_s}, gflop, pixels, peak_rss_mb,
/// threads, ranks, per_rank [{rank, tiles, skipped_empty, cores_written, seconds, busy_seconds,
/// infer_seconds, write_seconds, wait_seconds, progress_seconds, tiles_per_s, shares_sent,
/// peak_rss_mb}] (one entry per MPI rank, gathered on rank 0).
nlohmann::json run_report_json(const RunReport& report);

/// Writes run_report_json(report) to `path` (via "<path>.partial" and a rename,
/// safe_file::write_atomically: never through a link, only over a regular file). Throws
/// OutputError naming the file.
void write_run_report(const RunReport& report, const std::filesystem::path& path);

} // namespace atrous
