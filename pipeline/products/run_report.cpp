// SPDX-License-Identifier: Apache-2.0
// Purpose: run report: RunReport + getrusage -> JSON file.
#include "run_report.hpp"

#include "pipeline/run/output_guard.hpp"
#include "pipeline/version.hpp"
#include "stages/write/safe_file.hpp"

#include <algorithm>
#include <sys/resource.h>

namespace atrous
{

namespace fs = std::filesystem;

fs::path default_report_path(const fs::path& output)
{
    fs::path p = output;
    return p.replace_extension(".report.json");
}

long long peak_rss_bytes()
{
    struct rusage usage
    {
    };
    if (getrusage(RUSAGE_SELF, &usage) != 0)
        return 0;
    return static_cast<long long>(usage.ru_maxrss) * 1024; // Linux: kilobytes
}

nlohmann::json run_report_json(const RunReport& r)
{
    const double wall = r.seconds;
    const auto rate = [&](double amount) { return wall > 0 ? amount / wall : 0.0; };
    const double rss_mb = static_cast<double>(peak_rss_bytes()) / (1024.0 * 1024.0);
    nlohmann::json j;
    j["atrous_version"] = std::string(version());
    j["input"] = r.input.string();
    j["output"] = r.output.string();
    // Rates count the work of this run: tiles computed now (not those resumed), GFLOP of the
    // tiles inferred (not the empty ones skipped).
    const long long computed = r.tiles - r.resumed_tiles;
    j["tiles"] = {{"total", r.tiles},
                  {"done", r.tiles},
                  {"computed", computed},
                  {"skipped_empty", r.empty_tiles},
                  {"inferred", std::max(0LL, computed - r.empty_tiles)}};
    j["seconds"] = {{"wall", wall},
                    {"read", r.read_seconds},
                    {"infer", r.infer_seconds},
                    {"stitch", r.stitch_seconds},
                    {"write", r.write_seconds},
                    {"progress", r.progress_seconds}};
    j["progress_fraction"] = wall > 0 ? r.progress_seconds / wall : 0.0;
    j["throughput"] = {{"mpx_per_s", rate(static_cast<double>(r.pixels) / 1e6)},
                       {"gflop_per_s", rate(r.gflop)},
                       {"tiles_per_s", rate(static_cast<double>(computed))}};
    // Share of the threads' time spent in inference (the rest: reading, stitching, writing,
    // waiting): infer seconds / (wall x threads).
    j["infer_busy"] =
        wall > 0 && r.threads > 0 ? r.infer_seconds / (wall * static_cast<double>(r.threads)) : 0.0;
    j["gflop"] = r.gflop;
    j["pixels"] = r.pixels;
    j["peak_rss_mb"] = rss_mb;
    j["threads"] = r.threads;
    j["ranks"] = r.ranks;
    j["executor"] = r.executor;
    // Counted by the stream executor; null for tiles.
    j["flop_ratio"] = r.flop_ratio > 0 ? nlohmann::json(r.flop_ratio) : nlohmann::json(nullptr);
    j["resumed_tiles"] = r.resumed_tiles;
    // Every rank's share (gathered over MPI on rank 0, which writes the report).
    j["per_rank"] = nlohmann::json::array();
    std::vector<RankStats> ranks = r.per_rank;
    if (ranks.empty())
    {
        RankStats only;
        only.tiles = r.tiles - r.resumed_tiles;
        only.empty_tiles = r.empty_tiles;
        only.seconds = wall;
        only.progress_seconds = r.progress_seconds;
        only.peak_rss_mb = rss_mb;
        ranks.push_back(only);
    }
    for (const RankStats& s : ranks)
        j["per_rank"].push_back({{"rank", s.rank},
                                 {"tiles", s.tiles},
                                 {"skipped_empty", s.empty_tiles},
                                 {"cores_written", s.cores_written},
                                 {"seconds", s.seconds},
                                 {"busy_seconds", s.busy_seconds},
                                 {"infer_seconds", s.infer_seconds},
                                 {"write_seconds", s.write_seconds},
                                 {"wait_seconds", s.wait_seconds},
                                 {"progress_seconds", s.progress_seconds},
                                 {"tiles_per_s", s.seconds > 0 ? s.tiles / s.seconds : 0.0},
                                 {"shares_sent", s.shares_sent},
                                 {"peak_rss_mb", s.peak_rss_mb}});
    return j;
}

void write_run_report(const RunReport& report, const fs::path& path)
{
    safe_file::write_atomically(path, run_report_json(report).dump(2) + "\n", json_leftover(),
                                "report");
}

} // namespace atrous
