// SPDX-License-Identifier: Apache-2.0
// Purpose: affinity mask and cgroup CPU quota (pipeline/config/usable_cpus.hpp).
#include "usable_cpus.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sched.h>
#include <sstream>
#include <thread>
#include <vector>

namespace atrous
{
namespace
{

namespace fs = std::filesystem;

std::optional<long long> parse_number(std::string_view s)
{
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.remove_suffix(1);
    while (!s.empty() && s.front() == ' ')
        s.remove_prefix(1);
    long long v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size() || s.empty())
        return std::nullopt;
    return v;
}

/// quota / period CPUs, rounded up (1.5 CPUs of time lets 2 threads make progress).
std::optional<int> cpus_of(long long quota, long long period)
{
    if (quota <= 0 || period <= 0)
        return std::nullopt;
    const long long cpus = quota / period + (quota % period != 0 ? 1 : 0); // no overflow
    return static_cast<int>(std::clamp(cpus, 1LL, 1LL << 30));
}

std::string read_small(const fs::path& path)
{
    std::ifstream in(path);
    std::string text;
    std::getline(in, text);
    return text;
}

std::optional<int> tighter(std::optional<int> a, std::optional<int> b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    return std::min(*a, *b);
}

} // namespace

std::optional<int> cpus_from_cpu_max(std::string_view text)
{
    const auto space = text.find(' ');
    if (space == std::string_view::npos)
        return std::nullopt;
    const auto quota = parse_number(text.substr(0, space)); // "max": none
    const auto period = parse_number(text.substr(space + 1));
    if (!quota || !period)
        return std::nullopt;
    return cpus_of(*quota, *period);
}

std::optional<int> cpus_from_cfs_quota(std::string_view quota, std::string_view period)
{
    const auto q = parse_number(quota);
    const auto p = parse_number(period);
    if (!q || !p)
        return std::nullopt;
    return cpus_of(*q, *p);
}

std::optional<int> cgroup_cpu_quota(const fs::path& root, std::string_view proc_self_cgroup)
{
    std::optional<int> best;
    std::istringstream lines{std::string(proc_self_cgroup)};
    for (std::string line; std::getline(lines, line);)
    {
        // "hierarchy-id:controllers:path"; v2 is "0::path".
        const auto a = line.find(':');
        const auto b = a == std::string::npos ? a : line.find(':', a + 1);
        if (b == std::string::npos)
            continue;
        const std::string controllers = line.substr(a + 1, b - a - 1);
        const fs::path path = fs::path(line.substr(b + 1)).relative_path();
        if (controllers.empty())
        {
            // v2: this cgroup and every ancestor up to the root may limit it.
            for (fs::path p = path;; p = p.parent_path())
            {
                best = tighter(best, cpus_from_cpu_max(read_small(root / p / "cpu.max")));
                if (p.empty())
                    break;
            }
            continue;
        }
        std::vector<std::string> names;
        std::stringstream split(controllers);
        for (std::string c; std::getline(split, c, ',');)
            names.push_back(c);
        if (std::find(names.begin(), names.end(), "cpu") == names.end())
            continue;
        // The controller is mounted under its own name or the joint "cpu,cpuacct".
        for (const std::string& mount :
             {controllers, std::string("cpu"), std::string("cpu,cpuacct")})
            for (const fs::path& dir : {root / mount / path, root / mount})
                best = tighter(best, cpus_from_cfs_quota(read_small(dir / "cpu.cfs_quota_us"),
                                                         read_small(dir / "cpu.cfs_period_us")));
    }
    return best;
}

UsableCpus usable_cpus(int machine, int affinity, std::optional<int> quota)
{
    machine = std::max(1, machine);
    affinity = affinity > 0 ? affinity : machine;
    UsableCpus u;
    u.count = affinity;
    if (affinity < machine)
        u.why = fmt::format("affinity mask: {} of {} CPUs", affinity, machine);
    if (quota && *quota < u.count)
    {
        u.count = *quota;
        u.why = fmt::format("cgroup CPU quota: {} CPU{}", *quota, *quota == 1 ? "" : "s");
    }
    return u;
}

UsableCpus usable_cpus()
{
    const int machine = static_cast<int>(std::thread::hardware_concurrency());
    int affinity = 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        affinity = CPU_COUNT(&set);
    std::ifstream in("/proc/self/cgroup");
    std::stringstream text;
    text << in.rdbuf();
    return usable_cpus(std::max(machine, affinity), affinity,
                       cgroup_cpu_quota("/sys/fs/cgroup", text.str()));
}

} // namespace atrous
