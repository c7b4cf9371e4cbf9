// A small SVG line-chart writer for run reports: a grid of panels, one series each, drawn
// against the step (no dependencies; opens in any browser).
#ifndef R1RL_CLI_DEMO_SVG_PLOT_H_
#define R1RL_CLI_DEMO_SVG_PLOT_H_

#include <string>
#include <utility>
#include <vector>

namespace r1rl::demo {

struct Series {
  std::string title;                              // panel title, e.g. "reward"
  std::vector<std::pair<double, double>> points;  // (step, value), step ascending
  bool markers = false;                           // dots at each point (sparse series)
};

// An SVG document with the series in a grid of `columns` panels, axes labelled with the
// min/max of each series.
std::string RenderSvg(const std::vector<Series>& series, const std::string& title, int columns = 2);

}  // namespace r1rl::demo

#endif  // R1RL_CLI_DEMO_SVG_PLOT_H_
