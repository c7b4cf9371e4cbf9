// A model folder's identity for manifests and provenance: SHA-256 over the hashes of its
// config.json, tokenizer.json and weight files (*.safetensors but the optimizer state), in
// name order. Two folders holding the same model give the same hash.
#ifndef R1RL_LIB_PIPELINE_MODEL_HASH_H_
#define R1RL_LIB_PIPELINE_MODEL_HASH_H_

#include <string>

namespace r1rl::pipeline {

std::string ModelHash(const std::string& dir);

}  // namespace r1rl::pipeline

#endif  // R1RL_LIB_PIPELINE_MODEL_HASH_H_
