// This host's name (gethostname), as services name themselves and advertise their endpoints.
#ifndef R1RL_LIB_TRANSPORT_HOST_NAME_H_
#define R1RL_LIB_TRANSPORT_HOST_NAME_H_

#include <unistd.h>

#include <string>

namespace r1rl::transport {

inline std::string HostName() {
  char host[256] = {0};
  ::gethostname(host, sizeof(host) - 1);
  return host;
}

}  // namespace r1rl::transport

#endif  // R1RL_LIB_TRANSPORT_HOST_NAME_H_
