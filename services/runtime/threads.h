// Intra-op thread count of LibTorch. Debian's LibTorch (OpenMP) may start with one thread
// on machines where OpenMP sees no OMP_NUM_THREADS; every long job sets it explicitly.
#ifndef R1RL_SERVICES_RUNTIME_THREADS_H_
#define R1RL_SERVICES_RUNTIME_THREADS_H_

#include <cstdint>

namespace r1rl::runtime {

// Sets LibTorch's intra-op threads to `requested`, or to one per core when requested <= 0
// (config key runtime.threads). Returns the count in effect.
int ConfigureThreads(int64_t requested);

}  // namespace r1rl::runtime

#endif  // R1RL_SERVICES_RUNTIME_THREADS_H_
