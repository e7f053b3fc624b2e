// SPDX-License-Identifier: Apache-2.0
// Purpose: `tile.executor: tiles`: the needed tiles through read -> infer -> stitch -> write on a
// TBB pipeline, shared out among ranks by rank 0's dispenser.
#pragma once

#include "pipeline/run/executor.hpp"

namespace atrous
{

/// read: serial in tile order (one GDAL handle, so its cached blocks serve the neighbouring
/// windows); infer: parallel; stitch + write: serial; plan.tiles_in_flight() tiles at once.
/// Several ranks take tiles one at a time from rank 0 (pipeline/comm/tile_dispenser); with stitch
/// blend, shares of cores owned by other ranks travel through pipeline/comm/blend_exchange.
class TilesExecutor final : public Executor
{
public:
    ExecutionResult run(const RunPlan& plan, const Checkpoint& checkpoint, RunStages& stages,
                        const ExecutionContext& run) override;
};

} // namespace atrous
