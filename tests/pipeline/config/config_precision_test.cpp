// SPDX-License-Identifier: Apache-2.0
// Purpose: runtime.precision: fp32 by default, bf16 where the CPU has bf16 instructions (else a
// one-line ConfigError naming what is missing), kept in the normalized YAML and in the resume
// fingerprint's keys.

#include "pipeline/config/config.hpp"
#include "pipeline/run/fingerprint.hpp"
#include "pipeline/run/tile_plan.hpp"
#include "stages/error.hpp"
#include "stages/infer/kernels/dispatch.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace atrous
{
namespace
{

const std::string minimal = "input:\n  path: scene.tif\nmodel:\n  weights: unet.h5\noutput:\n  "
                            "path: out/mask.h5\n";

TEST(ConfigPrecision, Fp32ByDefault)
{
    const RunConfig c = parse_config(minimal, "run.yaml", "/data");
    EXPECT_EQ(c.model.precision, infer::Precision::fp32);
    EXPECT_NE(c.normalized_yaml().find("precision: fp32"), std::string::npos);
}

TEST(ConfigPrecision, Bf16NeedsTheInstructions)
{
    const std::string missing = infer::kernels::bf16_missing_feature();
    if (missing.empty())
    {
        const RunConfig c =
            parse_config(minimal + "runtime:\n  precision: bf16\n", "run.yaml", "/data");
        EXPECT_EQ(c.model.precision, infer::Precision::bf16);
        // The normalized YAML (provenance, and the source of the resume fingerprint) keeps it.
        EXPECT_NE(c.normalized_yaml().find("precision: bf16"), std::string::npos);
        const RunConfig again = parse_config(c.normalized_yaml(), "normalized", "/data");
        EXPECT_EQ(again.model.precision, infer::Precision::bf16);
    }
    else
    {
        try
        {
            parse_config(minimal, "run.yaml", "/data", {"runtime.precision=bf16"});
            FAIL() << "no ConfigError";
        }
        catch (const ConfigError& e)
        {
            const std::string what = e.what();
            EXPECT_NE(what.find("runtime.precision"), std::string::npos) << what;
            EXPECT_NE(what.find("AVX512_BF16"), std::string::npos) << what;
            EXPECT_EQ(what.find('\n'), std::string::npos) << what;
        }
    }
    EXPECT_THROW(parse_config(minimal, "run.yaml", "/data", {"runtime.precision=fp16"}),
                 ConfigError);
}

TEST(ConfigPrecision, EntersTheResumeFingerprint)
{
    // Unlike the other runtime keys: bf16 changes the numbers, so a run must not resume a file
    // written in the other precision. (Built from the normalized YAML; no need for the CPU.)
    const RunConfig fp32 = parse_config(minimal, "run.yaml", "/data");
    RunConfig bf16 = fp32;
    bf16.model.precision = infer::Precision::bf16;
    RasterInfo info;
    info.path = "/nonexistent/scene.tif";
    info.width = info.height = 64;
    info.bands = 1;
    infer::ModelFacts facts;
    facts.in_channels = facts.out_channels = 1;
    const TilePlan plan({64, 64, 32, 0}, facts);
    const Fingerprint a = make_fingerprint(fp32, info, "sha", plan);
    const Fingerprint b = make_fingerprint(bf16, info, "sha", plan);
    const auto field = [](const Fingerprint& f)
    {
        const auto it =
            std::find_if(f.begin(), f.end(),
                         [](const auto& kv) { return kv.first == "config.runtime.precision"; });
        return it == f.end() ? std::string("<absent>") : it->second;
    };
    EXPECT_EQ(field(a), "fp32");
    EXPECT_EQ(field(b), "bf16");
    EXPECT_NE(a, b);
    // The other runtime keys still stay out (a resume may change the thread count).
    RunConfig more_threads = fp32;
    more_threads.runtime.threads = fp32.runtime.threads + 3;
    EXPECT_EQ(make_fingerprint(more_threads, info, "sha", plan), a);
}

} // namespace
} // namespace atrous
