// A checkpoint directory in Hugging Face layout: one `model.safetensors`, or shards
// `model-00001-of-00003.safetensors`, ... listed by `model.safetensors.index.json`:
//   {"metadata": {"total_size": 123}, "weight_map": {"tensor": "model-00001-of-00003.safetensors"}}
//
// Thread-safety: ShardedSafetensors is immutable after OpenDir and may be read from
// any number of threads.
#ifndef R1RL_LIB_SAFETENSORS_SHARDED_H_
#define R1RL_LIB_SAFETENSORS_SHARDED_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/safetensors/safetensors.h"

namespace r1rl::safetensors {

inline constexpr char kSingleFileName[] = "model.safetensors";
inline constexpr char kIndexFileName[] = "model.safetensors.index.json";

class ShardedSafetensors {
 public:
  // Opens `dir`: the index and every shard it names when the index exists (it wins
  // over a stale `model.safetensors`), else `model.safetensors`. Each shard is
  // memory-mapped and validated as SafetensorsFile::Open does. Errors, naming the
  // file: NotFound when neither file exists or the index names a missing shard;
  // InvalidArgument when the index is not JSON of the form above, names a shard
  // outside `dir`, maps a tensor to a shard that lacks it, or when a tensor is
  // stored in two shards or in a shard the weight_map does not send it to.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ShardedSafetensors>> OpenDir(
      const std::string& dir);

  // The tensor named `name` in whichever shard holds it; nullptr when none does.
  // The view lives as long as this object.
  const TensorView* Find(std::string_view name) const;
  // Like Find, but NotFound (naming the directory and the tensor) when absent.
  [[nodiscard]] absl::StatusOr<const TensorView*> Get(std::string_view name) const;
  // Every tensor name, sorted.
  std::vector<std::string> names() const;
  // The opened shard files, in file-name order.
  const std::vector<std::unique_ptr<SafetensorsFile>>& shards() const { return shards_; }

 private:
  ShardedSafetensors() = default;
  absl::Status OpenSingle(const std::string& path);
  absl::Status OpenIndexed(const std::string& index_path);

  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, const TensorView*, std::less<>> by_name_;
};

// Writes `tensors` to `dir` (which must exist) the way transformers' save_pretrained
// does: `model.safetensors` when their bytes total at most `max_shard_bytes`, else
// shards `model-0000K-of-0000N.safetensors` filled in the given order (a tensor that
// would push a shard past the limit starts the next one; a tensor larger than the
// limit gets a shard of its own) plus `model.safetensors.index.json` with sorted keys.
// Every file is written atomically, the index last; files of an earlier save that
// the new one does not use (a stale index, single file or shard) are then removed.
// InvalidArgument for max_shard_bytes <= 0 or the tensor errors of WriteSafetensors.
[[nodiscard]] absl::Status WriteShardedSafetensors(const std::string& dir,
                                                   const std::vector<TensorView>& tensors,
                                                   int64_t max_shard_bytes);

}  // namespace r1rl::safetensors

#endif  // R1RL_LIB_SAFETENSORS_SHARDED_H_
