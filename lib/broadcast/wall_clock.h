// Wall-clock milliseconds since the Unix epoch: the stamps a manifest (published) and a
// received version (verified) carry, compared across processes (one host, or synced clocks).
#ifndef R1RL_LIB_BROADCAST_WALL_CLOCK_H_
#define R1RL_LIB_BROADCAST_WALL_CLOCK_H_

#include <chrono>
#include <cstdint>

namespace r1rl::broadcast {

inline int64_t UnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace r1rl::broadcast

#endif  // R1RL_LIB_BROADCAST_WALL_CLOCK_H_
