// SPDX-License-Identifier: Apache-2.0
// Purpose: the executor the run plan chose.
#include "executor.hpp"

#include "pipeline/run/streaming_executor.hpp"
#include "pipeline/run/tiles_executor.hpp"

namespace atrous
{

std::unique_ptr<Executor> make_executor(const RunPlan& plan)
{
    if (plan.executor().executor == TileOptions::Executor::stream)
        return std::make_unique<StreamingExecutor>();
    return std::make_unique<TilesExecutor>();
}

} // namespace atrous
