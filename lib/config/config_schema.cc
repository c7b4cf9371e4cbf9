#include "lib/config/config_schema.h"

#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace r1rl::config {
namespace {

std::vector<KeySpec> BuildSchema() {
  using T = KeyType;
  return {
      // model
      {"model.dir", T::kString, "\"\"",
       "Folder of the policy checkpoint: config.json, *.safetensors (single or sharded), "
       "tokenizer.json. Empty: the built-in demo model. Read at start-up."},
      {"model.dtype", T::kString, "\"float32\"",
       "Compute dtype of the policy: float32 (CPU), bfloat16 or float16 (GPU). Weights stored in "
       "another dtype are converted on load. Read at start-up."},
      {"model.device", T::kString, "\"cpu\"",
       "Device of the policy: cpu, or cuda / cuda:N where LibTorch has CUDA. Read at start-up."},
      // tokenizer
      {"tokenizer.path", T::kString, "\"\"",
       "tokenizer.json to use; empty: <model.dir>/tokenizer.json. Read at start-up."},
      // prompt
      {"prompt.format", T::kString, "\"r1-zero\"",
       "How a question becomes a prompt: r1-zero (DeepSeek-R1-Zero's template), qwen-chat "
       "(<|im_start|>role ... <|im_end|>), raw (the question as is)."},
      {"prompt.system", T::kString, "\"\"",
       "System message for qwen-chat; empty: the model family's default."},
      // generation
      {"generation.num_samples", T::kInt, "1",
       "Samples per prompt (GRPO's group size G). Each finishes on its own."},
      {"generation.max_new_tokens", T::kInt, "256",
       "Most tokens sampled per completion; a completion that reaches it finishes with "
       "finish_reason \"length\"."},
      {"generation.temperature", T::kDouble, "1.0",
       "Softmax temperature (> 0). The behaviour log-prob of each sampled token is taken under "
       "the temperature-scaled distribution, before top-k/top-p truncation."},
      {"generation.top_p", T::kDouble, "1.0",
       "Nucleus sampling: keep the smallest set of tokens whose probability reaches top_p "
       "(0 < top_p <= 1; 1 = off)."},
      {"generation.top_k", T::kInt, "0", "Keep the k most likely tokens (0 = off)."},
      {"generation.greedy", T::kBool, "false",
       "Take the arg-max token (temperature, top_p and top_k are ignored)."},
      {"generation.seed", T::kInt, "0",
       "Seed of the sampler; the same seed, prompts and model give the same samples."},
      {"generation.stop_strings", T::kStringList, "[]",
       "A completion finishes (reason \"stop\") once its text contains one of these; the text "
       "is cut after the stop string."},
      {"generation.stop_token_ids", T::kIntList, "[]",
       "Token ids that finish a completion (reason \"stop\"), in addition to the model's "
       "eos_token_id(s)."},
      {"generation.max_batch", T::kInt, "64",
       "Most sequences decoded together in one batch (bounds KV-cache memory)."},
      // grpo
      {"grpo.steps", T::kInt, "100", "GRPO steps (one rollout batch each)."},
      {"grpo.prompts_per_step", T::kInt, "32",
       "Prompts per step; each gets generation.num_samples completions (the group)."},
      {"grpo.eps_low", T::kDouble, "0.2", "Clip range below 1 of the importance ratio, in (0, 1)."},
      {"grpo.eps_high", T::kDouble, "0.2",
       "Clip range above 1; larger than eps_low is DAPO's clip-higher (e.g. 0.28)."},
      {"grpo.beta", T::kDouble, "0.001",
       "KL coefficient to the frozen reference policy (0: no reference is kept)."},
      {"grpo.kl_estimator", T::kString, "\"k3\"",
       "KL estimator: k1 (log-ratio), k2 (squared log-ratio / 2), k3 (exp(r-l) - (r-l) - 1, "
       "GRPO's)."},
      {"grpo.kl_in_reward", T::kBool, "false",
       "Fold beta * KL into the reward before the advantages instead of adding it to the loss."},
      {"grpo.loss_aggregation", T::kString, "\"seq-mean-token-mean\"",
       "seq-mean-token-mean (GRPO), token-mean (DAPO), seq-mean-token-sum-norm (Dr. GRPO: "
       "token sums divided by grpo.max_response_length)."},
      {"grpo.max_response_length", T::kInt, "0",
       "The constant of seq-mean-token-sum-norm; 0: generation.max_new_tokens."},
      {"grpo.scale_rewards", T::kBool, "true",
       "Divide advantages by the group's reward std; false is Dr. GRPO."},
      {"grpo.dynamic_sampling", T::kBool, "false",
       "DAPO dynamic sampling: drop groups whose rewards are all equal and draw more prompts "
       "until the step is full (the count dropped is logged as groups_dropped)."},
      {"grpo.overlong_cache_length", T::kInt, "0",
       "DAPO soft overlong penalty: completions longer than max_new_tokens minus this lose up "
       "to 1 reward, linearly (0 = off)."},
      {"grpo.tis_cap", T::kDouble, "0.0",
       "Truncated importance sampling: cap of exp(old - behaviour) when the ratio is taken "
       "against the learner's recomputed log-probs (0 = off)."},
      {"grpo.sequence_ratio", T::kBool, "false",
       "GSPO: one importance ratio per sequence (geometric mean of its token ratios)."},
      {"grpo.ppo_epochs", T::kInt, "1", "Passes over each rollout batch."},
      {"grpo.mini_batches", T::kInt, "1", "Optimizer steps per pass (the batch split evenly)."},
      {"grpo.micro_batch_size", T::kInt, "0",
       "Rows per forward/backward, gradients accumulated over a mini-batch (0: a whole "
       "mini-batch)."},
      {"grpo.ref_update_every", T::kInt, "0",
       "Replace the reference by the current policy every this many steps (0 = never; R1: 400)."},
      {"grpo.max_policy_lag", T::kInt, "0",
       "Steps the sampler may run ahead of the learner (0: on-policy, the sampler waits)."},
      // optimizer
      {"optim.lr", T::kDouble, "3e-6", "Peak learning rate of AdamW."},
      {"optim.warmup_steps", T::kInt, "0", "Linear warmup, in optimizer steps."},
      {"optim.schedule", T::kString, "\"constant\"",
       "After warmup: constant, cosine or linear decay."},
      {"optim.min_lr_ratio", T::kDouble, "0.0", "Floor of the decay, as a fraction of optim.lr."},
      {"optim.decay_start", T::kDouble, "0.0",
       "The decay starts at this fraction of the run (0: right after warmup)."},
      {"optim.weight_decay", T::kDouble, "0.0", "AdamW's decoupled weight decay."},
      {"optim.max_grad_norm", T::kDouble, "1.0", "Global gradient-norm clip (<= 0: off)."},
      // reward
      {"reward.accuracy_weight", T::kDouble, "1.0",
       "Weight of the accuracy component (math, exact, choice or code)."},
      {"reward.format_weight", T::kDouble, "1.0",
       "Weight of the format component (0: not computed)."},
      {"reward.language_weight", T::kDouble, "0.0",
       "Weight of language consistency of the chain of thought (R1; 0: not computed)."},
      {"reward.format_style", T::kString, "\"r1-zero\"",
       "r1-zero: <think>…</think><answer>…</answer>; r1-chat: <think>…</think> then the answer."},
      {"reward.format_partial_credit", T::kBool, "false",
       "Format scores the share of its checks passed."},
      {"reward.language", T::kString, "\"en\"",
       "Target language of the chain of thought (a row's \"language\" overrides it)."},
      {"reward.cas_timeout_ms", T::kInt, "1000", "Time limit of one symbolic (GiNaC) comparison."},
      {"reward.cas_workers", T::kInt, "2",
       "CAS helper processes (concurrent symbolic comparisons)."},
      {"reward.code_all_or_nothing", T::kBool, "false",
       "Code: 1 only when every test passes (else the share passed)."},
      {"reward.code_cpu_seconds", T::kDouble, "2.0", "Code: CPU seconds per test run."},
      {"reward.code_wall_seconds", T::kDouble, "5.0", "Code: wall seconds per test run."},
      {"reward.code_memory_mb", T::kInt, "1024", "Code: address-space limit per test run, MiB."},
      // grader (the r1rl-reward-grader service)
      {"grader.input", T::kString, "\"tcp://127.0.0.1:5556\"",
       "ZeroMQ endpoint rollout groups are pulled from."},
      {"grader.input_bind", T::kBool, "false", "Bind grader.input (else connect to it)."},
      {"grader.output", T::kString, "\"tcp://127.0.0.1:5557\"",
       "ZeroMQ endpoint graded groups are pushed to."},
      {"grader.output_bind", T::kBool, "false", "Bind grader.output (else connect to it)."},
      {"grader.grpc_address", T::kString, "\"127.0.0.1:50053\"",
       "gRPC health checking and r1rl.v1.RewardGrader (port 0: any free port)."},
      {"grader.metrics_address", T::kString, "\"127.0.0.1:9103\"",
       "Prometheus /metrics (port 0: any free port)."},
      {"grader.threads", T::kInt, "2", "Grading threads."},
      {"grader.max_message_bytes", T::kInt, "16777216",
       "Larger messages are counted as oversized and dropped."},
      {"grader.id", T::kString, "\"\"",
       "This replica's name in status and graded groups (\"\": hostname-pid)."},
      // worker (the r1rl-rollout-worker service)
      {"worker.controller", T::kString, "\"127.0.0.1:50051\"",
       "The controller's gRPC address (host:port)."},
      {"worker.output", T::kString, "\"tcp://127.0.0.1:5555\"",
       "The controller's rollouts endpoint (ZeroMQ PUSH connects)."},
      {"worker.model", T::kString, "\"\"",
       "Model folder: config.json, safetensors, tokenizer.json."},
      {"worker.id", T::kString, "\"\"", "This worker's name (\"\": the controller names it)."},
      {"worker.prompts_per_lease", T::kInt, "8", "Prompts leased and sampled together."},
      {"worker.exit_when_done", T::kBool, "false",
       "Exit once the controller's dataset is exhausted."},
      {"worker.metrics_address", T::kString, "\"127.0.0.1:9102\"",
       "Prometheus /metrics (port 0: any free port)."},
      {"worker.grpc_address", T::kString, "\"127.0.0.1:50052\"",
       "gRPC Status and grpc.health.v1 (port 0: any free port)."},
      {"worker.lease_wait_ms", T::kInt, "2000",
       "LeasePrompts long poll: how long the controller may hold a request with nothing to grant "
       "(0..30000)."},
      {"worker.relay_address", T::kString, "\"tcp://127.0.0.1:0\"",
       "Where this worker serves weight chunks to the next worker in its broadcast relay chain "
       "(ZeroMQ ROUTER bound; port 0: any free port). Used when the controller names a "
       "param-broadcast service."},
      {"worker.advertise_host", T::kString, "\"\"",
       "The host name or address other workers reach worker.relay_address at (\"\": this "
       "host's name)."},
      {"worker.weights_wait_ms", T::kInt, "30000",
       "How long a worker waits for a leased policy version to arrive through the broadcast "
       "before it fetches it from the controller instead (Controller.FetchWeights)."},
      // broadcast (the r1rl-param-broadcast service, and where the learner and workers find it)
      {"broadcast.address", T::kString, "\"\"",
       "The param-broadcast service's gRPC address (host:port) for the learner, which publishes "
       "each version there once, and the controller, which tells workers. Empty: no service; "
       "workers fetch weights from the controller (Controller.FetchWeights)."},
      {"broadcast.grpc_address", T::kString, "\"127.0.0.1:50061\"",
       "The service's gRPC: Publish, Join, Sync, Reparent, Status, health (port 0: any free)."},
      {"broadcast.chunk_address", T::kString, "\"tcp://127.0.0.1:5561\"",
       "The service's chunk server, the root of every relay chain (ZeroMQ ROUTER bound)."},
      {"broadcast.advertise_host", T::kString, "\"\"",
       "The host name or address receivers reach broadcast.chunk_address at (\"\": this "
       "host's name)."},
      {"broadcast.metrics_address", T::kString, "\"127.0.0.1:9105\"",
       "Prometheus /metrics of the service (port 0: any free port)."},
      {"broadcast.keep_versions", T::kInt, "3",
       "Versions the service keeps (a late or slow receiver can still finish one of these)."},
      {"broadcast.chunk_bytes", T::kInt, "1048576",
       "Chunk size: the unit of hashing, skipping unchanged bytes and pipelining along a chain "
       "(4096..2^30). Smaller chunks shorten the pipeline's fill time per hop."},
      {"broadcast.max_chunks", T::kInt, "16384",
       "A version is cut into at most this many chunks: beyond, chunks grow (in whole MiB) past "
       "broadcast.chunk_bytes. Every receiver gets the manifest (~30 bytes a chunk) with each "
       "version; 0: no cap (docs/scale.md)."},
      {"broadcast.fanout", T::kInt, "1",
       "Relay chains the service feeds (it sends each byte about this many times). Every "
       "receiver relays to one child: a chain takes one copy's time plus a chunk per hop."},
      {"broadcast.window", T::kInt, "4", "Chunk requests a receiver keeps in flight."},
      {"broadcast.sync_wait_ms", T::kInt, "2000",
       "How long a receiver's Sync long-polls when nothing is new (its heartbeat interval)."},
      {"broadcast.relay_timeout_ms", T::kInt, "2000",
       "A parent silent this long (no chunk, no keep-alive) is reported and replaced."},
      {"broadcast.receiver_timeout_ms", T::kInt, "10000",
       "A receiver not heard from this long leaves its chain (must exceed sync_wait_ms)."},
      {"broadcast.slow_lag_chunks", T::kInt, "256",
       "A receiver this many chunks behind its parent, three reports in a row, moves to the "
       "tail of a chain so it slows nobody (0: never)."},
      {"broadcast.transfer_dtype", T::kString, "\"float32\"",
       "The dtype the learner publishes float32 weights in: float32, or bfloat16 / float16 for "
       "workers that sample in it (half the bytes; more chunks unchanged after a small step). "
       "Controller.FetchWeights, the fallback, serves float32."},
      {"broadcast.max_model_bytes", T::kInt, "68719476736",
       "Largest version accepted from the learner or in a manifest."},
      {"broadcast.collective", T::kBool, "false",
       "The collective path (GPU workers): workers ask into a c10d group with the learner at "
       "rank 0, formed by the service at a version boundary; the learner broadcasts each "
       "version through it in buckets right after publishing it. Late joiners, and every member "
       "after a failed version, take the relay chains. Read by the learner, the service and "
       "the workers."},
      {"broadcast.collective_backend", T::kString, "\"auto\"",
       "The group's c10d backend: auto (NCCL when the worker samples on CUDA, else Gloo), nccl "
       "or gloo. The learner and every worker in the group must agree."},
      {"broadcast.collective_host", T::kString, "\"\"",
       "The host name or address workers reach the learner's rendezvous store at (a port the "
       "kernel picks, new for each generation; \"\": this host's name)."},
      {"broadcast.collective_max_receivers", T::kInt, "256",
       "Workers in the group at most; the others take the relay chains."},
      {"broadcast.bucket_bytes", T::kInt, "268435456",
       "Bytes per broadcast call on the collective path: few large calls, not one per tensor."},
      {"broadcast.collective_timeout_s", T::kInt, "120",
       "A group's rendezvous and every broadcast in it fail after this long (a dead or hung "
       "member): the version goes to the group's members through the relay chains instead."},
      // learner (the r1rl-learner service: controller + GRPO trainer)
      {"learner.data", T::kString, "\"\"",
       "Prompts, JSONL: {\"prompt\": ..., \"reward\": {...}, \"id\": ...} per line."},
      {"learner.model", T::kString, "\"\"",
       "The initial policy: config.json, safetensors, tokenizer.json."},
      {"learner.run_dir", T::kString, "\"runs/cluster\"",
       "RocksDB buffer, metrics.jsonl, endpoints.json and checkpoints go here."},
      {"learner.grpc_address", T::kString, "\"127.0.0.1:50051\"",
       "Controller and Admin gRPC (workers connect)."},
      {"learner.rollouts_address", T::kString, "\"tcp://127.0.0.1:5555\"",
       "ZeroMQ PULL bound for workers' rollout groups."},
      {"learner.graders_address", T::kString, "\"tcp://127.0.0.1:5556\"",
       "ZeroMQ PUSH bound: graders PULL groups to grade."},
      {"learner.ingest_address", T::kString, "\"tcp://127.0.0.1:5557\"",
       "ZeroMQ PULL bound for graded groups."},
      {"learner.metrics_address", T::kString, "\"127.0.0.1:9101\"",
       "Prometheus /metrics (port 0: any free port)."},
      {"learner.buffer_min_free_mb", T::kInt, "64",
       "The rollout buffer stops ingesting (counted as rejected{reason=\"disk_full\"}; the "
       "groups' leases expire and are sampled again) while its disk has less free than this; "
       "it goes on once space returns."},
      {"learner.reward_min", T::kDouble, "-10",
       "Graded groups with a sample's reward below this are refused and counted "
       "(r1rl_controller_rejected_total{reason=\"reward_out_of_range\"})."},
      {"learner.reward_max", T::kDouble, "10",
       "Graded groups with a sample's reward above this (or not finite) are refused and "
       "counted."},
      {"learner.lease_seconds", T::kDouble, "120",
       "A lease not answered in this time is granted again."},
      {"learner.heartbeat_seconds", T::kDouble, "2",
       "How often each rollout worker heartbeats (told at Register). A worker unheard for "
       "max(lease_seconds, 3 heartbeats) is no longer live. N workers make N / heartbeat_seconds "
       "calls a second on the controller: lengthen it for large clusters (docs/scale.md)."},
      {"learner.epochs", T::kInt, "0", "Passes over learner.data (0: as many as grpo.steps need)."},
      {"learner.checkpoint_every", T::kInt, "10",
       "Save checkpoints/step-N every this many steps (0: final only; a crash then loses the "
       "run)."},
      {"learner.checkpoint_keep", T::kInt, "3",
       "Keep the newest this many checkpoints/step-N (checkpoints/final is always kept)."},
      {"learner.resume", T::kBool, "true",
       "Continue from the newest checkpoint's resume point in learner.run_dir's buffer (policy, "
       "optimizer, step, dataset position)."},
      {"learner.world_size", T::kInt, "0",
       "Data-parallel learner ranks (0: WORLD_SIZE, else 1). Rank 0 runs the controller; "
       "every rank trains on its share of each step's groups (c10d)."},
      {"learner.rank", T::kInt, "-1",
       "This process's rank (-1: RANK, else a StatefulSet pod's ordinal from HOSTNAME "
       "name-N, else 0)."},
      {"learner.master_addr", T::kString, "\"\"",
       "Rank 0's host for the rendezvous (c10d TCPStore; \"\": MASTER_ADDR, else 127.0.0.1)."},
      {"learner.master_port", T::kInt, "0",
       "The rendezvous port on rank 0 (0: MASTER_PORT, else 29500)."},
      {"learner.dist_backend", T::kString, "auto",
       "c10d backend: auto (NCCL when the model is on CUDA, else Gloo), gloo or nccl."},
      {"learner.dist_timeout_s", T::kDouble, "120",
       "The rendezvous and every collective fail after this long: a dead or hung rank ends "
       "the others with an error naming it."},
      {"learner.dist_interface", T::kString, "\"\"",
       "Gloo's network interface (\"\": GLOO_SOCKET_IFNAME, else the host name's address)."},
      {"learner.bucket_mb", T::kDouble, "25",
       "Gradient all-reduce bucket size in MiB: fewer, larger calls amortise each call's "
       "latency."},
      {"learner.shard_optimizer", T::kBool, "false",
       "ZeRO-1: each rank keeps the Adam moments of 1/N of the parameters (gradients "
       "all-reduced, each rank steps its shard, the updated parameters all-gathered); a "
       "checkpoint gathers the state into rank 0, in the one format."},
      {"learner.overlap_allreduce", T::kBool, "true",
       "Start each gradient bucket's all-reduce during the backward pass, as soon as the "
       "bucket's gradients are final (gradient hooks); false: all buckets after backward."},
      // security
      {"security.keys_dir", T::kString, "\"\"",
       "Folder made by `r1rl keys init`: the CA and TLS certificates, the role tokens and the "
       "CurveZMQ key pairs. Every gRPC server then serves TLS and checks a role token on each "
       "call, and clients present theirs. Required unless security.insecure."},
      {"security.insecure", T::kBool, "false",
       "No TLS, tokens or CurveZMQ: anyone who reaches a port steers training. For experiments "
       "on a private machine only; a warning is printed at start and r1rl_security_insecure is "
       "1 on /metrics."},
      {"security.mtls", T::kBool, "false",
       "Mutual TLS: servers also require a client certificate signed by the keys folder's CA "
       "(client-<role>.crt), on top of the role token."},
      {"security.metrics_token", T::kBool, "false",
       "Require \"Authorization: Bearer <metrics.token>\" on /metrics (from the keys folder); "
       "/healthz stays open for probes."},
      // sft
      {"sft.lr", T::kDouble, "5e-4",
       "Peak learning rate of supervised fine-tuning (cosine to 10%)."},
      {"sft.steps", T::kInt, "40", "SFT optimizer steps."},
      {"sft.batch_size", T::kInt, "32", "SFT examples per step."},
      {"sft.examples", T::kInt, "300", "Demo: cold-start examples generated for SFT."},
      // demo
      {"demo.run_dir", T::kString, "\"runs/demo\"",
       "Run folder: config.yaml, metrics.jsonl, checkpoints/, plot.svg, summary.txt."},
      {"demo.seed", T::kInt, "1", "Seed of the task's splits, the model's init and the data."},
      {"demo.base_checkpoint", T::kString, "\"\"",
       "Load the base model from this folder (written by `r1rl demo --pretrain DIR`) instead "
       "of pre-training (\"\": pre-train). configs/demo.yaml names the shipped "
       "assets/demo-base, looked up in the working directory, then the source tree."},
      {"demo.pretrain_steps", T::kInt, "800", "Pre-training steps of 128 texts."},
      {"demo.pretrain_lr", T::kDouble, "3e-3", "Pre-training peak learning rate (cosine to 10%)."},
      {"demo.mix_scratchpad", T::kDouble, "0.30",
       "Pre-training mixture: share of texts with the correct written scratchpad."},
      {"demo.mix_corrupted", T::kDouble, "0.05",
       "Pre-training mixture: share of scratchpads with one wrong column (carried into the "
       "answer)."},
      {"demo.mix_direct", T::kDouble, "0.55",
       "Pre-training mixture: share answering at once after an empty <think></think>; "
       "untagged answers take the rest."},
      {"demo.sft_scratchpad_share", T::kDouble, "0.4",
       "Share of cold-start SFT examples that write the scratchpad (the rest answer with an "
       "empty think); all are correctly formatted."},
      {"demo.eval_every", T::kInt, "10", "Greedy held-out evaluation every this many GRPO steps."},
      {"demo.select_best", T::kBool, "true",
       "The final checkpoint is the one with the best validation accuracy (a split kept apart "
       "from the test problems)."},
      {"demo.test_problems", T::kInt, "256", "Held-out test problems (never trained on)."},
      {"demo.validation_problems", T::kInt, "128",
       "Held-out validation problems (checkpoint choice)."},
      // runtime
      {"runtime.threads", T::kInt, "0",
       "Intra-op CPU threads for LibTorch; 0 = automatic: 1 when a multi-threaded OpenBLAS "
       "does the matrix products (the two thread pools would otherwise contend for the same "
       "cores), else one per core."},
      {"runtime.blas_threads", T::kInt, "0",
       "OpenBLAS threads; 0 = its default (one per core). For processes sharing the cores: "
       "`r1rl cluster up` gives each of N rollout workers cores / N."},
      {"runtime.learner_threads", T::kInt, "0",
       "LibTorch intra-op threads while a GRPO step learns (the element-wise work over "
       "tokens x vocabulary logits), restored after; 0 = one per core, except beside a "
       "sampler in one process (`r1rl demo`: runtime.threads) or with data-parallel ranks "
       "(runtime.threads: ranks may share a machine)."},
      {"runtime.log_level", T::kString, "\"info\"", "trace, debug, info, warn, error."},
  };
}

}  // namespace

const std::vector<KeySpec>& Schema() {
  static const std::vector<KeySpec>* schema = new std::vector<KeySpec>(BuildSchema());
  return *schema;
}

const KeySpec* FindKey(const std::string& path) {
  for (const KeySpec& spec : Schema()) {
    if (spec.path == path) return &spec;
  }
  return nullptr;
}

const KeyRange* FindRange(const std::string& path) {
  constexpr double kBig = 9.2e18;  // about int64's largest
  static const std::map<std::string, KeyRange> kRanges = {
      {"generation.num_samples", {1, 65536}},
      {"generation.max_new_tokens", {1, 1 << 24}},
      {"generation.top_k", {0, kBig}},
      {"generation.max_batch", {1, 1 << 20}},
      {"generation.temperature", {0, 1000}},
      {"generation.top_p", {0, 1}},
      {"grpo.steps", {0, kBig}},
      {"grpo.prompts_per_step", {1, 1 << 24}},
      {"grpo.max_response_length", {0, 1 << 24}},
      {"grpo.overlong_cache_length", {0, 1 << 24}},
      {"grpo.ppo_epochs", {1, 1000}},
      {"grpo.mini_batches", {1, 1 << 24}},
      {"grpo.micro_batch_size", {0, 1 << 24}},
      {"grpo.ref_update_every", {0, kBig}},
      {"grpo.max_policy_lag", {0, kBig}},
      {"optim.warmup_steps", {0, kBig}},
      {"reward.cas_timeout_ms", {1, 86400000}},
      {"reward.cas_workers", {1, 4096}},
      {"reward.code_memory_mb", {1, 1 << 24}},
      {"grader.threads", {1, 4096}},
      {"grader.max_message_bytes", {1024, 2147483647}},
      {"worker.prompts_per_lease", {1, 1 << 24}},
      {"worker.lease_wait_ms", {0, 86400000}},
      {"worker.weights_wait_ms", {0, 86400000}},
      {"broadcast.keep_versions", {1, 1 << 20}},
      {"broadcast.chunk_bytes", {1, 1 << 30}},
      {"broadcast.max_chunks", {0, 1 << 30}},
      {"broadcast.fanout", {1, 1 << 20}},
      {"broadcast.window", {1, 1 << 20}},
      {"broadcast.max_model_bytes", {1, kBig}},
      {"broadcast.collective_max_receivers", {1, 1 << 20}},
      {"broadcast.bucket_bytes", {1, 1 << 30}},
      {"broadcast.collective_timeout_s", {1, 86400}},
      {"learner.epochs", {0, kBig}},
      {"learner.checkpoint_every", {0, kBig}},
      {"learner.checkpoint_keep", {0, 1 << 20}},
      {"learner.buffer_min_free_mb", {0, 1 << 24}},
      {"sft.steps", {0, kBig}},
      {"sft.batch_size", {1, 1 << 24}},
      {"sft.examples", {1, kBig}},
      {"runtime.threads", {0, 4096}},
      {"runtime.blas_threads", {0, 4096}},
      {"runtime.learner_threads", {0, 4096}},
  };
  auto it = kRanges.find(path);
  return it == kRanges.end() ? nullptr : &it->second;
}

const char* KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kBool:
      return "bool";
    case KeyType::kInt:
      return "int";
    case KeyType::kDouble:
      return "float";
    case KeyType::kString:
      return "string";
    case KeyType::kStringList:
      return "list of strings";
    case KeyType::kIntList:
      return "list of ints";
  }
  return "?";
}

std::string SchemaMarkdown() {
  std::ostringstream out;
  out << "# Configuration reference\n\n"
      << "One format for the whole project: YAML files (see `configs/`) plus "
         "`--set key.path=value` overrides on the command line, applied in that order. "
         "Unknown keys and values of the wrong type are rejected with the key's name.\n"
         "This page is generated by `r1rl config --docs`; a test checks it is current.\n";
  std::string section;
  for (const KeySpec& spec : Schema()) {
    std::string head = spec.path.substr(0, spec.path.find('.'));
    if (head != section) {
      section = head;
      out << "\n## " << section << "\n\n| key | type | default | meaning |\n|---|---|---|---|\n";
    }
    out << "| `" << spec.path << "` | " << KeyTypeName(spec.type) << " | `" << spec.default_value
        << "` | " << spec.doc;
    if (const KeyRange* r = FindRange(spec.path); r != nullptr) {
      out << " Range: [" << absl::StrCat(r->min) << ", " << absl::StrCat(r->max) << "].";
    }
    out << " |\n";
  }
  return out.str();
}

}  // namespace r1rl::config
