// SPDX-License-Identifier: Apache-2.0
// Purpose: how many CPUs this process may run on: the affinity mask (taskset, SLURM's task
// binding) lowered by the cgroup CPU quota (containers, SLURM's cgroup plugin), and the one
// bound on thread counts that every path to a thread count shares.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace atrous
{

/// The most threads atrous runs, however they are asked for (runtime.threads,
/// SLURM_CPUS_PER_TASK, `atrous demo --threads`).
constexpr int max_threads = 4096;

struct UsableCpus
{
    int count = 1;   // >= 1
    std::string why; // what limits it below the machine's CPUs ("affinity mask: 1 of 16
                     // CPUs", "cgroup CPU quota: 2 CPUs"); empty when nothing does
};

/// cgroup v2 `cpu.max` ("max 100000": none; "150000 100000": 2, a fraction rounds up).
std::optional<int> cpus_from_cpu_max(std::string_view text);

/// cgroup v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us` ("-1": none).
std::optional<int> cpus_from_cfs_quota(std::string_view quota, std::string_view period);

/// The tightest CPU quota of the cgroups in `proc_self_cgroup` (the text of /proc/self/cgroup)
/// under `root` (normally /sys/fs/cgroup): v2 `cpu.max` of the cgroup and each ancestor, or v1
/// `cpu.cfs_quota_us` of the cpu controller's cgroup (and of its mount's root, as containers
/// see it). None when no quota is set or nothing is readable.
std::optional<int> cgroup_cpu_quota(const std::filesystem::path& root,
                                    std::string_view proc_self_cgroup);

/// The CPUs this process may run on now: sched_getaffinity's count, lowered by the cgroup
/// quota; `why` names the limit.
UsableCpus usable_cpus();

/// The same from given facts (tests): `machine` CPUs, `affinity` in the mask, `quota` from
/// the cgroups.
UsableCpus usable_cpus(int machine, int affinity, std::optional<int> quota);

} // namespace atrous
