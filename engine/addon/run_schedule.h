// planSchedule: how many optimizer steps and tokens a train.py call trains, by the trainer's own
// epoch rules (train/epoch_plan.h), for the editor's lens above the call. Nothing is read: the
// caller passes the dataset's document count when it knows it (the newest RWKV-PEFT's epoch is
// one pass over at most epoch_steps documents). Compiled into rwkv_options, so CTest checks the
// code the addon runs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/json.h"

namespace rwkv::facts {

// argv: the words after train.py; documents: the data's document count, -1 when unknown.
// Returns {totalSteps, tokensPerStep, totalTokens, untilStopped, epochCount, epoch: {onePass,
// pool, microBatches, lastBatchRows, optimizerSteps}, documentsKnown}. Throws EngineError for
// flags the trainer refuses.
Json plan_schedule(const std::vector<std::string>& argv, int64_t documents);

}  // namespace rwkv::facts
