// SPDX-License-Identifier: Apache-2.0
// Purpose: checks and picks the executor tile.executor names.
#include "executor.hpp"

#include "pipeline/run/streaming_executor.hpp"
#include "pipeline/run/tiles_executor.hpp"

namespace atrous
{

void check_executor(const RunConfig& config, const infer::Model& model, int ranks)
{
    check_stream_executor(config, model, ranks); // the tiles executor runs every configuration
}

std::unique_ptr<Executor> make_executor(const RunPlan& plan)
{
    if (plan.config().tile.executor == TileOptions::Executor::stream)
        return std::make_unique<StreamingExecutor>();
    return std::make_unique<TilesExecutor>();
}

} // namespace atrous
