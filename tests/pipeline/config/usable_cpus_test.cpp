// SPDX-License-Identifier: Apache-2.0
// Purpose: the CPUs a process may run on: cgroup v2/v1 quota texts, the cgroup tree walk, the
// affinity mask, and the one thread bound (resolve_threads) built on them.
#include "pipeline/config/config.hpp"
#include "pipeline/config/usable_cpus.hpp"
#include "stages/error.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace atrous
{
namespace
{

namespace fs = std::filesystem;

TEST(UsableCpus, QuotaTexts)
{
    EXPECT_FALSE(cpus_from_cpu_max("max 100000\n"));
    EXPECT_EQ(cpus_from_cpu_max("200000 100000\n"), 2);
    EXPECT_EQ(cpus_from_cpu_max("150000 100000"), 2); // 1.5 CPUs of time: 2 threads progress
    EXPECT_EQ(cpus_from_cpu_max("50000 100000"), 1);
    EXPECT_FALSE(cpus_from_cpu_max(""));
    EXPECT_FALSE(cpus_from_cpu_max("garbage"));
    EXPECT_EQ(cpus_from_cpu_max("9223372036854775807 100000"), 1 << 30); // no overflow
    EXPECT_FALSE(cpus_from_cfs_quota("-1\n", "100000\n"));
    EXPECT_EQ(cpus_from_cfs_quota("400000\n", "100000\n"), 4);
    EXPECT_FALSE(cpus_from_cfs_quota("", ""));
}

void write(const fs::path& p, const std::string& text)
{
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

TEST(UsableCpus, CgroupTree)
{
    const fs::path root = fs::temp_directory_path() / "atrous_usable_cpus_test";
    fs::remove_all(root);
    // v2: the job's cgroup allows 3 CPUs, its parent 2: the parent wins.
    write(root / "v2/slurm/job_7/cpu.max", "300000 100000\n");
    write(root / "v2/slurm/cpu.max", "200000 100000\n");
    write(root / "v2/cpu.max", "max 100000\n");
    EXPECT_EQ(cgroup_cpu_quota(root / "v2", "0::/slurm/job_7\n"), 2);
    EXPECT_FALSE(cgroup_cpu_quota(root / "v2", "0::/\n"));
    // v1: the cpu controller (mounted as cpu,cpuacct) of a container.
    write(root / "v1/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "100000\n");
    write(root / "v1/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
    EXPECT_EQ(
        cgroup_cpu_quota(root / "v1", "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n"),
        1);
    // Nothing readable: no quota.
    EXPECT_FALSE(cgroup_cpu_quota(root / "missing", "0::/x\n2:cpu:/y\n"));
    fs::remove_all(root);
}

TEST(UsableCpus, AffinityAndQuota)
{
    const UsableCpus all = usable_cpus(16, 16, std::nullopt);
    EXPECT_EQ(all.count, 16);
    EXPECT_EQ(all.why, "");
    const UsableCpus taskset = usable_cpus(16, 1, std::nullopt);
    EXPECT_EQ(taskset.count, 1);
    EXPECT_EQ(taskset.why, "affinity mask: 1 of 16 CPUs");
    const UsableCpus quota = usable_cpus(16, 8, 2);
    EXPECT_EQ(quota.count, 2);
    EXPECT_EQ(quota.why, "cgroup CPU quota: 2 CPUs");
    EXPECT_EQ(usable_cpus(16, 8, 12).count, 8);
    EXPECT_GE(usable_cpus().count, 1); // this process
}

TEST(UsableCpus, ThreadsAreBoundEverywhere)
{
    const UsableCpus two{2, "affinity mask: 2 of 16 CPUs"};
    const UsableCpus many{10000, ""};
    EXPECT_EQ(resolve_threads(0, nullptr, two),
              (std::pair<int, std::string>{2, "all cores this process may use (affinity mask: "
                                              "2 of 16 CPUs)"}));
    EXPECT_EQ(resolve_threads(0, nullptr, UsableCpus{8, ""}),
              (std::pair<int, std::string>{8, "all cores"}));
    EXPECT_EQ(resolve_threads(0, "99999999", two),
              (std::pair<int, std::string>{2, "SLURM_CPUS_PER_TASK 99999999 cut to 2, the CPUs "
                                              "this process may run on (affinity mask: 2 of 16 "
                                              "CPUs)"}));
    EXPECT_EQ(resolve_threads(0, "2147483647", many).first, max_threads);
    EXPECT_EQ(resolve_threads(0, "99999999999999", many).second,
              "SLURM_CPUS_PER_TASK 99999999999999 cut to 4096, the most atrous runs");
    EXPECT_EQ(resolve_threads(3, nullptr, two).first, 2);
    EXPECT_EQ(resolve_threads(2, "64", two), (std::pair<int, std::string>{2, "runtime.threads"}));
    EXPECT_EQ(resolve_threads(0, nullptr, many).first, max_threads);
    EXPECT_THROW(resolve_threads(0, "0", two), ConfigError);
    EXPECT_THROW(resolve_threads(0, "-3", two), ConfigError);
    EXPECT_THROW(resolve_threads(0, "999999999999999999999999", two), ConfigError);
}

} // namespace
} // namespace atrous
