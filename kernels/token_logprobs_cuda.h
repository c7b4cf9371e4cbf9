// CUDA kernels behind TokenLogprobs (token_logprobs.h) for logits that live on a GPU. Built only
// when CMake finds nvcc and LibTorch has CUDA (R1RL_HAS_CUDA_KERNELS); the CPU path is LibTorch
// ops. Both compute the same quantities; kernels_test checks the CUDA path against the float32
// log_softmax + gather reference when a GPU is present.
//
// One chunk of logits z (rows x V, float32, contiguous, on the GPU) is read once per pass:
//   ChunkRowStatsCuda  lse_r = log sum_v exp(z_rv), picked_r = z_r[target_r],
//                      mean_z_r = sum_v softmax(z_r)_v z_rv  (so H_r = lse_r - mean_z_r),
//                      one block per row with an online (running max) softmax, so the
//                      probabilities are never written out.
//   ChunkLogitGradCuda overwrites z with d(loss)/dz for the backward pass:
//                      dz = g_logp (onehot(target) - p) - g_ent p (log p + H), times inv_tau.
// Thread-safety: runs on the current CUDA stream of z's device; stateless.
#ifndef R1RL_KERNELS_TOKEN_LOGPROBS_CUDA_H_
#define R1RL_KERNELS_TOKEN_LOGPROBS_CUDA_H_

#include <torch/types.h>

namespace r1rl::kernels::cuda {

// z (rows, V) float32; targets (rows) int64. Writes lse, picked (rows) and, when defined,
// mean_z (rows); all float32 on z's device.
void ChunkRowStatsCuda(const torch::Tensor& z, const torch::Tensor& targets, torch::Tensor& lse,
                       torch::Tensor& picked, torch::Tensor& mean_z);

// z (rows, V) float32 logits in, gradient out (in place). lse, g_logp (rows) float32;
// entropy and g_ent (rows) float32 or undefined (no entropy term).
void ChunkLogitGradCuda(torch::Tensor& z, const torch::Tensor& targets, const torch::Tensor& lse,
                        const torch::Tensor& g_logp, const torch::Tensor& entropy,
                        const torch::Tensor& g_ent, double inv_tau);

}  // namespace r1rl::kernels::cuda

#endif  // R1RL_KERNELS_TOKEN_LOGPROBS_CUDA_H_
