#include "kernels/token_logprobs.h"

#include <torch/torch.h>

#ifdef R1RL_HAS_CUDA_KERNELS
#include "kernels/token_logprobs_cuda.h"
#endif

namespace r1rl::kernels {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Float32 logits of one chunk of tokens: (n, V).
torch::Tensor ChunkLogits(const torch::Tensor& h, const torch::Tensor& w, double inv_tau) {
  torch::Tensor z = torch::matmul(h, w.t()).to(torch::kFloat32);
  if (inv_tau != 1.0) z.mul_(inv_tau);
  return z;
}

// Per-row results of one chunk of logits.
struct ChunkStats {
  torch::Tensor lse;      // log sum exp z
  torch::Tensor logp;     // z[target] - lse
  torch::Tensor entropy;  // lse - sum softmax(z) z; undefined when not asked for
};

ChunkStats RowStats(const torch::Tensor& z, const torch::Tensor& targets, bool with_entropy) {
  ChunkStats out;
#ifdef R1RL_HAS_CUDA_KERNELS
  if (z.is_cuda()) {  // one read of the logits, no probabilities written out
    out.lse = torch::empty({z.size(0)}, z.options());
    torch::Tensor picked = torch::empty_like(out.lse);
    torch::Tensor mean_z = with_entropy ? torch::empty_like(out.lse) : torch::Tensor();
    cuda::ChunkRowStatsCuda(z, targets, out.lse, picked, mean_z);
    out.logp = picked - out.lse;
    if (with_entropy) out.entropy = out.lse - mean_z;
    return out;
  }
#endif
  out.lse = torch::logsumexp(z, -1);
  out.logp = z.gather(1, targets.unsqueeze(1)).squeeze(1) - out.lse;
  if (with_entropy) {
    // H = lse - sum p z, with p = exp(z - lse).
    torch::Tensor p = (z - out.lse.unsqueeze(1)).exp_();
    out.entropy = out.lse - (p * z).sum(-1);
  }
  return out;
}

// Overwrites the chunk's logits z with d(loss)/dz:
//   dz = g_logp * (onehot - p) - g_ent * p * (log p + H), times inv_tau.
// g_ent and entropy are undefined when the loss has no entropy term.
torch::Tensor LogitGrad(torch::Tensor z, const torch::Tensor& targets, const torch::Tensor& lse,
                        const torch::Tensor& g_logp, const torch::Tensor& entropy,
                        const torch::Tensor& g_ent, double inv_tau) {
#ifdef R1RL_HAS_CUDA_KERNELS
  if (z.is_cuda()) {  // incoming gradients may be expanded (stride 0) or of another dtype
    auto f32 = [](const torch::Tensor& t) {
      return t.defined() ? t.to(torch::kFloat32).contiguous() : t;
    };
    cuda::ChunkLogitGradCuda(z, targets, lse, f32(g_logp), entropy, f32(g_ent), inv_tau);
    return z;
  }
#endif
  torch::Tensor logp = z.sub_(lse.unsqueeze(1));  // log p, in place
  torch::Tensor p = logp.exp();
  torch::Tensor dz = p * (-g_logp.unsqueeze(1));
  if (g_ent.defined()) dz.sub_(p * (logp + entropy.unsqueeze(1)) * g_ent.unsqueeze(1));
  dz.scatter_add_(1, targets.unsqueeze(1), g_logp.unsqueeze(1));
  if (inv_tau != 1.0) dz.mul_(inv_tau);
  return dz;
}

struct FusedTokenLogprobs : public torch::autograd::Function<FusedTokenLogprobs> {
  // hidden (N, d), weight (V, d), targets (N). Returns {logprobs (N), entropy (N), lse (N)}.
  static variable_list forward(AutogradContext* ctx, torch::Tensor hidden, torch::Tensor weight,
                               torch::Tensor targets, int64_t chunk, double temperature,
                               bool with_entropy) {
    const int64_t n = hidden.size(0);
    const double inv_tau = 1.0 / temperature;
    auto f32 = hidden.options().dtype(torch::kFloat32);
    torch::Tensor logprobs = torch::empty({n}, f32);
    torch::Tensor entropy = with_entropy ? torch::empty({n}, f32) : torch::zeros({0}, f32);
    torch::Tensor lse = torch::empty({n}, f32);
    for (int64_t start = 0; start < n; start += chunk) {
      const int64_t len = std::min(chunk, n - start);
      torch::Tensor z = ChunkLogits(hidden.narrow(0, start, len), weight, inv_tau);  // (len, V)
      ChunkStats stats = RowStats(z, targets.narrow(0, start, len), with_entropy);
      logprobs.narrow(0, start, len).copy_(stats.logp);
      lse.narrow(0, start, len).copy_(stats.lse);
      if (with_entropy) entropy.narrow(0, start, len).copy_(stats.entropy);
    }
    ctx->save_for_backward({hidden, weight, targets, lse, entropy});
    ctx->saved_data["chunk"] = chunk;
    ctx->saved_data["temperature"] = temperature;
    ctx->saved_data["with_entropy"] = with_entropy;
    return {logprobs, entropy};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    torch::Tensor hidden = saved[0], weight = saved[1], targets = saved[2], lse = saved[3],
                  entropy = saved[4];
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const double inv_tau = 1.0 / ctx->saved_data["temperature"].toDouble();
    const bool with_entropy = ctx->saved_data["with_entropy"].toBool();
    torch::Tensor g_logp = grads[0].defined() ? grads[0] : torch::zeros_like(lse);
    torch::Tensor g_ent = (with_entropy && grads[1].defined()) ? grads[1] : torch::Tensor();

    const int64_t n = hidden.size(0);
    torch::Tensor grad_hidden = torch::empty_like(hidden);
    torch::Tensor grad_weight =
        torch::zeros(weight.sizes(), weight.options().dtype(torch::kFloat32));
    for (int64_t start = 0; start < n; start += chunk) {
      const int64_t len = std::min(chunk, n - start);
      torch::Tensor h = hidden.narrow(0, start, len);
      torch::Tensor dz =
          LogitGrad(ChunkLogits(h, weight, inv_tau), targets.narrow(0, start, len),
                    lse.narrow(0, start, len), g_logp.narrow(0, start, len),
                    g_ent.defined() ? entropy.narrow(0, start, len) : torch::Tensor(),
                    g_ent.defined() ? g_ent.narrow(0, start, len) : torch::Tensor(), inv_tau);
      grad_hidden.narrow(0, start, len).copy_(torch::matmul(dz.to(weight.scalar_type()), weight));
      grad_weight.add_(torch::matmul(dz.t(), h.to(torch::kFloat32)));
    }
    return {grad_hidden,     grad_weight.to(weight.scalar_type()),
            torch::Tensor(), torch::Tensor(),
            torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

TokenLogprobsResult TokenLogprobs(const torch::Tensor& hidden, const torch::Tensor& weight,
                                  const torch::Tensor& targets,
                                  const TokenLogprobsOptions& options) {
  TORCH_CHECK(hidden.size(-1) == weight.size(1), "TokenLogprobs: hidden size ", hidden.size(-1),
              " != weight columns ", weight.size(1));
  TORCH_CHECK(options.temperature > 0, "TokenLogprobs: temperature must be > 0");
  auto lead = targets.sizes().vec();
  torch::Tensor h = hidden.reshape({-1, hidden.size(-1)});
  torch::Tensor t = targets.reshape({-1}).to(torch::kInt64);
  variable_list out =
      FusedTokenLogprobs::apply(h, weight, t, std::max<int64_t>(1, options.chunk_tokens),
                                options.temperature, options.with_entropy);
  TokenLogprobsResult result;
  result.logprobs = out[0].view(lead);
  if (options.with_entropy) result.entropy = out[1].view(lead);
  return result;
}

TokenLogprobsResult TokenLogprobsReference(const torch::Tensor& hidden, const torch::Tensor& weight,
                                           const torch::Tensor& targets,
                                           const TokenLogprobsOptions& options) {
  torch::Tensor z = torch::matmul(hidden, weight.t()).to(torch::kFloat32) / options.temperature;
  torch::Tensor logp = torch::log_softmax(z, -1);
  TokenLogprobsResult result;
  result.logprobs = logp.gather(-1, targets.to(torch::kInt64).unsqueeze(-1)).squeeze(-1);
  if (options.with_entropy) result.entropy = -(logp.exp() * logp).sum(-1);
  return result;
}

}  // namespace r1rl::kernels
