// Paths of test data for the model tests: committed fixtures under tests/fixtures/ and the
// shared data set beside the repository (../shared/data).
#ifndef R1RL_LIB_MODEL_TEST_PATHS_H_
#define R1RL_LIB_MODEL_TEST_PATHS_H_

#include <cstdlib>
#include <string>

namespace r1rl::model {

inline std::string SourceDir() {
  const char* dir = std::getenv("R1RL_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}
inline std::string FixtureDir() { return SourceDir() + "/tests/fixtures/model"; }
inline std::string SharedDataDir() { return SourceDir() + "/../shared/data"; }

}  // namespace r1rl::model

#endif  // R1RL_LIB_MODEL_TEST_PATHS_H_
