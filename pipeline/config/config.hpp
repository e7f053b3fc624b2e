// SPDX-License-Identifier: Apache-2.0
// Purpose: the run configuration: a YAML file plus `--set key.path=value` overrides, checked
// against one table of keys and turned into the per-stage option structs (RunConfig).
#pragma once

#include "pipeline/config/usable_cpus.hpp"
#include "stages/infer/infer_options.hpp"
#include "stages/read/read_options.hpp"
#include "stages/stitch/stitch_options.hpp"
#include "stages/write/write_options.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace atrous
{

/// Config section `tile`.
struct TileOptions
{
    std::optional<int> size;    // core edge in output pixels; empty = 256 (classifier: its input)
    std::optional<int> halo_px; // empty = `exact` (the model's halo); else pixels, rounded up
    /// `tile.executor`: automatic (stream where it can run, else tiles: RunPlan decides, see
    /// pipeline/run/executor_choice.hpp choose_executor), tiles (windows through the network one by
    /// one) or stream (the whole image in full-width bands of rows,
    /// pipeline/run/streaming_executor.hpp).
    enum class Executor
    {
        automatic,
        tiles,
        stream
    };
    Executor executor = Executor::automatic;
    /// `tile.stream_strip`: output columns per vertical strip of the stream, a multiple of the
    /// tile size; empty = auto (the measured default, narrower where the row buffers would not
    /// fit; pipeline/run/executor_choice.hpp), 0 = the whole width.
    std::optional<int> stream_strip_px;
};

/// "auto", "tiles" or "stream": the key's values.
const char* executor_name(TileOptions::Executor executor);

/// Config section `runtime`.
struct RuntimeOptions
{
    int threads = 1;            // resolved: > 0
    std::string threads_from;   // where the number came from: "runtime.threads", "all cores", ...
    double sync_interval = 1.0; // seconds between progress commits (WriteOptions::sync_interval_s)
};

/// Everything a run needs, typed and checked. Paths are absolute.
struct RunConfig
{
    std::filesystem::path file; // the YAML file ("" when built from text)
    ReadOptions input;
    InferOptions model;
    TileOptions tile;
    StitchOptions stitch;
    WriteOptions output; // model_sha256 is filled by the runner
    RuntimeOptions runtime;

    /// "<file>:<line> <key>" (or "--set <key>") for a key given by the user; "<key>" otherwise.
    /// Errors found after loading (tile.size vs the model's stride) use it as their `where`.
    std::string where(const std::string& key) const;
    std::map<std::string, std::string> locations; // key -> "<file>:<line>" or "--set"

    /// The effective configuration (defaults filled in, overrides applied, paths absolute) as
    /// YAML; recorded in the output's provenance.
    std::string normalized_yaml() const;
};

/// One row of the key table: drives parsing, validation, the README key table and the check that
/// configs/*.yaml mention every key.
struct ConfigKey
{
    std::string key;           // dotted, e.g. "tile.halo"
    std::string type;          // "path", "integer", "one of crop|blend", "section", ...
    std::string default_value; // "" when required or a section
    std::string help;
    bool required = false;
};

/// Every key in document order, sections included.
const std::vector<ConfigKey>& config_keys();

/// The key table as a Markdown table (the README's).
std::string config_keys_markdown();

/// Reads and checks `file`, then applies `overrides` ("a.b=value", value parsed as YAML;
/// relative paths in them resolve against the working directory). Throws ConfigError
/// ("<file>:<line> <key>: <expected>, <found>") on a missing file, YAML syntax error, unknown key,
/// wrong type or bad value. Reads SLURM_CPUS_PER_TASK for runtime.threads = 0.
RunConfig load_config(const std::filesystem::path& file,
                      const std::vector<std::string>& overrides = {});

/// As load_config on YAML text; `name` is used in messages and `base_dir` resolves relative paths.
/// `slurm_cpus` stands for the environment (nullptr = unset), `cpus` for the CPUs this process
/// may run on (nullptr = usable_cpus()).
RunConfig parse_config(std::string_view yaml, const std::string& name,
                       const std::filesystem::path& base_dir,
                       const std::vector<std::string>& overrides = {},
                       const char* slurm_cpus = nullptr, const UsableCpus* cpus = nullptr);

/// runtime.threads: > 0 is asked for as is; 0 = SLURM_CPUS_PER_TASK when set (and a positive
/// integer), else every CPU this process may run on. Any request is cut to max_threads and to
/// the CPUs this process may run on (usable_cpus(): affinity mask, cgroup quota). Returns the
/// number and where it came from ("runtime.threads", "SLURM_CPUS_PER_TASK 99999999 cut to 2,
/// the CPUs this process may run on (affinity mask: 2 of 16 CPUs)", "all cores", ...).
std::pair<int, std::string> resolve_threads(int configured, const char* slurm_cpus);
std::pair<int, std::string> resolve_threads(int configured, const char* slurm_cpus,
                                            const UsableCpus& cpus);

} // namespace atrous
