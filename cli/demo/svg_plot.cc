#include "cli/demo/svg_plot.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace r1rl::demo {

std::string RenderSvg(const std::vector<Series>& series, const std::string& title, int columns) {
  const int pw = 420, ph = 260, margin = 50;
  const int rows = (static_cast<int>(series.size()) + columns - 1) / columns;
  const int width = columns * pw, height = rows * ph + 40;
  std::string svg = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
      "fill=\"white\"/>\n<text x=\"%d\" y=\"24\" font-size=\"16\" "
      "text-anchor=\"middle\">%s</text>\n",
      width, height, width / 2, title);
  for (size_t s = 0; s < series.size(); ++s) {
    const Series& ser = series[s];
    const int x0 = static_cast<int>(s % columns) * pw + margin;
    const int y0 = static_cast<int>(s / columns) * ph + 40 + 20;
    const int w = pw - margin - 20, h = ph - 70;
    absl::StrAppendFormat(&svg,
                          "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">%s</text>\n"
                          "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                          "stroke=\"#888\"/>\n",
                          x0, y0 - 6, ser.title, x0, y0, w, h);
    if (ser.points.empty()) continue;
    double xmin = ser.points.front().first, xmax = ser.points.back().first;
    double ymin = ser.points.front().second, ymax = ymin;
    for (auto [x, y] : ser.points) {
      ymin = std::min(ymin, y);
      ymax = std::max(ymax, y);
    }
    if (xmax <= xmin) xmax = xmin + 1;
    if (ymax - ymin < 1e-12) {
      ymax += 0.5;
      ymin -= 0.5;
    }
    auto px = [&](double x) { return x0 + (x - xmin) / (xmax - xmin) * w; };
    auto py = [&](double y) { return y0 + h - (y - ymin) / (ymax - ymin) * h; };
    std::string path;
    for (auto [x, y] : ser.points) {
      absl::StrAppendFormat(&path, "%s%.1f,%.1f", path.empty() ? "M" : " L", px(x), py(y));
    }
    absl::StrAppendFormat(
        &svg, "<path d=\"%s\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\"/>\n", path);
    if (ser.markers) {
      for (auto [x, y] : ser.points) {
        absl::StrAppendFormat(&svg, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#d62728\"/>\n",
                              px(x), py(y));
      }
    }
    absl::StrAppendFormat(&svg,
                          "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.3g</text>\n"
                          "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.3g</text>\n"
                          "<text x=\"%d\" y=\"%d\">%.0f</text>\n"
                          "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.0f</text>\n"
                          "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">step</text>\n",
                          x0 - 4, y0 + 10, ymax, x0 - 4, y0 + h, ymin, x0, y0 + h + 14, xmin,
                          x0 + w, y0 + h + 14, xmax, x0 + w / 2, y0 + h + 14);
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace r1rl::demo
