// SPDX-License-Identifier: Apache-2.0
// Purpose: path keys: GDAL's /vsi names pass through input.path verbatim (never normalized or made
// absolute); model.weights and output.path refuse them (HDF5 needs local files).
#include "pipeline/config/config.hpp"
#include "stages/error.hpp"

#include <gtest/gtest.h>

#include <string>

namespace atrous
{
namespace
{

std::string config_with_input(const std::string& input)
{
    return "input:\n  path: " + input + "\nmodel:\n  weights: w.h5\noutput:\n  path: o.h5\n";
}

TEST(ConfigKeys, VirtualInputPathsPassVerbatim)
{
    for (const std::string path :
         {"/vsicurl/https://host/dir//scene.tif?x=1", "/vsis3/bucket/key/../scene.tif",
          "/vsigs/bucket/scene.tif", "/vsiaz/container/scene.tif", "/vsizip/a.zip/b.tif",
          "/vsizip/{/data/a.zip}/b.tif", "/vsigzip/scene.tif.gz",
          "/vsizip//vsicurl/https://host/a.zip/b.tif"})
    {
        const RunConfig c = parse_config(config_with_input(path), "run.yaml", "/data");
        EXPECT_EQ(c.input.path.string(), path);
        // The normalized configuration (stored in outputs, read back by preview) keeps it.
        const RunConfig again = parse_config(c.normalized_yaml(), "normalized", "/elsewhere");
        EXPECT_EQ(again.input.path.string(), path);
    }
    // Through --set as well.
    const RunConfig c = parse_config(config_with_input("a.tif"), "run.yaml", "/data",
                                     {"input.path=/vsicurl/http://127.0.0.1:8080/s.tif"});
    EXPECT_EQ(c.input.path.string(), "/vsicurl/http://127.0.0.1:8080/s.tif");
    // Local paths are still resolved against the configuration's directory.
    EXPECT_EQ(parse_config(config_with_input("sub/../a.vrt"), "run.yaml", "/data").input.path,
              "/data/a.vrt");
}

TEST(ConfigKeys, VirtualPathsAreRefusedForHdf5Files)
{
    for (const std::string key : {"output.path", "model.weights"})
    {
        try
        {
            parse_config(config_with_input("a.tif"), "run.yaml", "/data",
                         {key + "=/vsis3/bucket/x.h5"});
            ADD_FAILURE() << key;
        }
        catch (const ConfigError& e)
        {
            EXPECT_EQ(std::string(e.what()),
                      "--set " + key +
                          ": expected a local file path (GDAL's /vsi paths are read for "
                          "input.path only), found '/vsis3/bucket/x.h5'");
        }
    }
}

} // namespace
} // namespace atrous
