#include "kernels/token_logprobs.h"

#include <torch/torch.h>

#ifdef R1RL_HAS_CUDA_KERNELS
#include "kernels/token_logprobs_cuda.h"
#endif

namespace r1rl::kernels {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Float32 logits of one chunk of tokens: (n, V). With float32 inputs they are written into
// `buffer` (at least n x V, reused chunk after chunk: one allocation per call, not one per
// chunk and op); otherwise a new tensor.
torch::Tensor ChunkLogits(const torch::Tensor& h, const torch::Tensor& w, double inv_tau,
                          torch::Tensor* buffer) {
  torch::Tensor z;
  if (h.scalar_type() == torch::kFloat32 && w.scalar_type() == torch::kFloat32) {
    const int64_t n = h.size(0), v = w.size(0);
    if (!buffer->defined() || buffer->size(0) < n) *buffer = torch::empty({n, v}, w.options());
    z = buffer->narrow(0, 0, n);
    torch::mm_out(z, h, w.t());
  } else {
    z = torch::matmul(h, w.t()).to(torch::kFloat32);
  }
  if (inv_tau != 1.0) z.mul_(inv_tau);
  return z;
}

// Per-row results of one chunk of logits.
struct ChunkStats {
  torch::Tensor lse;      // log sum exp z
  torch::Tensor logp;     // z[target] - lse
  torch::Tensor entropy;  // lse - sum softmax(z) z; undefined when not asked for
};

// Overwrites z (the chunk's logits) on the CPU path: z - max, then exp(z - max) without
// entropy. With m = max z, e = exp(z - m), S = sum e:
//   lse = m + log S,  H = lse - sum p z = log S - sum e (z - m) / S.
ChunkStats RowStats(torch::Tensor& z, const torch::Tensor& targets, bool with_entropy) {
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
  torch::Tensor picked = z.gather(1, targets.unsqueeze(1)).squeeze(1);
  torch::Tensor m = std::get<0>(z.max(1, /*keepdim=*/true));
  z.sub_(m);
  torch::Tensor log_s;
  if (with_entropy) {
    torch::Tensor e = z.exp();
    torch::Tensor sum_e = e.sum(1);
    log_s = sum_e.log();
    out.entropy = log_s - e.mul_(z).sum(1) / sum_e;
  } else {
    log_s = z.exp_().sum(1).log_();
  }
  out.lse = m.squeeze(1) + log_s;
  out.logp = picked - out.lse;
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
  // In place in z: dz = -p * (g_logp + g_ent * (log p + H)), then + g_logp at the target.
  torch::Tensor logp = z.sub_(lse.unsqueeze(1));  // log p
  torch::Tensor dz;
  if (g_ent.defined()) {
    torch::Tensor p = logp.exp();
    logp.add_(entropy.unsqueeze(1)).mul_(g_ent.unsqueeze(1)).add_(g_logp.unsqueeze(1));
    dz = logp.mul_(p).neg_();
  } else {
    dz = logp.exp_().mul_(-g_logp.unsqueeze(1));
  }
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
    torch::Tensor buffer;
    for (int64_t start = 0; start < n; start += chunk) {
      const int64_t len = std::min(chunk, n - start);
      torch::Tensor z = ChunkLogits(hidden.narrow(0, start, len), weight, inv_tau, &buffer);
      ChunkStats stats = RowStats(z, targets.narrow(0, start, len), with_entropy);
      logprobs.narrow(0, start, len).copy_(stats.logp);
      lse.narrow(0, start, len).copy_(stats.lse);
      if (with_entropy) entropy.narrow(0, start, len).copy_(stats.entropy);
    }
    ctx->save_for_backward({hidden, weight, targets, lse, entropy});
    ctx->saved_data["chunk"] = chunk;
    ctx->saved_data["temperature"] = temperature;
    ctx->saved_data["with_entropy"] = with_entropy;
    // An output the loss does not use (the entropy, usually) gets no gradient, rather than
    // a zero one that would cost a pass over every chunk's logits.
    ctx->set_materialize_grads(false);
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
    torch::Tensor buffer;
    for (int64_t start = 0; start < n; start += chunk) {
      const int64_t len = std::min(chunk, n - start);
      torch::Tensor h = hidden.narrow(0, start, len);
      torch::Tensor dz =
          LogitGrad(ChunkLogits(h, weight, inv_tau, &buffer), targets.narrow(0, start, len),
                    lse.narrow(0, start, len), g_logp.narrow(0, start, len),
                    g_ent.defined() ? entropy.narrow(0, start, len) : torch::Tensor(),
                    g_ent.defined() ? g_ent.narrow(0, start, len) : torch::Tensor(), inv_tau);
      torch::Tensor gh = grad_hidden.narrow(0, start, len);
      if (dz.scalar_type() == weight.scalar_type() && gh.scalar_type() == weight.scalar_type()) {
        torch::mm_out(gh, dz, weight);  // no (len x d) temporary
      } else {
        gh.copy_(torch::matmul(dz.to(weight.scalar_type()), weight));
      }
      grad_weight.addmm_(dz.t(),
                         h.to(torch::kFloat32));  // accumulated in place: no V x d temporary
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
