#include "lib/metrics/metrics.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <sstream>

namespace r1rl::metrics {
namespace {

void AddAtomic(std::atomic<double>* a, double by) {
  double cur = a->load(std::memory_order_relaxed);
  while (!a->compare_exchange_weak(cur, cur + by, std::memory_order_relaxed)) {
  }
}

void Check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "metrics: %s\n", what.c_str());
    std::abort();
  }
}

bool ValidName(const std::string& n) {
  static const std::regex kName("^[a-zA-Z_:][a-zA-Z0-9_:]*$");
  return std::regex_match(n, kName);
}

bool ValidLabel(const std::string& n) {
  static const std::regex kLabel("^[a-zA-Z_][a-zA-Z0-9_]*$");
  return std::regex_match(n, kLabel) && n.rfind("__", 0) != 0;
}

std::string EscapeHelp(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string EscapeValue(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"')
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

std::string Number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

std::string LabelText(const Labels& labels, const std::string& extra_key = "",
                      const std::string& extra = "") {
  if (labels.empty() && extra_key.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ",";
    first = false;
    out += k + "=\"" + EscapeValue(v) + "\"";
  }
  if (!extra_key.empty()) {
    if (!first) out += ",";
    out += extra_key + "=\"" + extra + "\"";
  }
  return out + "}";
}

}  // namespace

void Counter::Increment(double by) {
  if (by > 0) AddAtomic(&value_, by);
}

void Gauge::Increment(double by) { AddAtomic(&value_, by); }

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  for (size_t i = 1; i < bounds_.size(); ++i)
    Check(bounds_[i] > bounds_[i - 1], "histogram bounds must increase");
  counts_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  AddAtomic(&sum_, v);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    out[i] = total;
  }
  return out;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> b;
  for (int i = 0; i < count; ++i) b.push_back(start * std::pow(factor, i));
  return b;
}

std::vector<double> LinearBuckets(double start, double width, int count) {
  std::vector<double> b;
  for (int i = 0; i < count; ++i) b.push_back(start + width * i);
  return b;
}

template <typename T>
T& Family<T>::Add(const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = metrics_.find(labels);
  if (it != metrics_.end()) return *it->second;
  for (const auto& [k, v] : labels)
    Check(ValidLabel(k) && k != "le", "bad label name \"" + k + "\" on " + name_);
  std::unique_ptr<T> m;
  if constexpr (std::is_same_v<T, Histogram>) {
    m = std::make_unique<T>(bounds_);
  } else {
    m = std::make_unique<T>();
  }
  T& ref = *m;
  metrics_.emplace(labels, std::move(m));
  return ref;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

void Registry::CheckNew(const std::string& name) {
  Check(ValidName(name), "bad metric name \"" + name + "\"");
  for (const std::string& n : order_) Check(n != name, "metric \"" + name + "\" registered twice");
  order_.push_back(name);
}

Family<Counter>& Registry::AddCounter(const std::string& name, const std::string& help) {
  std::lock_guard<std::mutex> lock(mu_);
  Check(name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0,
        "counter \"" + name + "\" must end in _total");
  CheckNew(name);
  counters_.push_back(std::make_unique<Family<Counter>>(name, help, Type::kCounter));
  return *counters_.back();
}

Family<Counter>& Registry::GetOrAddCounter(const std::string& name, const std::string& help) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& f : counters_) {
      if (f->name() == name) return *f;
    }
  }
  return AddCounter(name, help);
}

Family<Gauge>& Registry::GetOrAddGauge(const std::string& name, const std::string& help) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& f : gauges_) {
      if (f->name() == name) return *f;
    }
  }
  return AddGauge(name, help);
}

Family<Gauge>& Registry::AddGauge(const std::string& name, const std::string& help) {
  std::lock_guard<std::mutex> lock(mu_);
  CheckNew(name);
  gauges_.push_back(std::make_unique<Family<Gauge>>(name, help, Type::kGauge));
  return *gauges_.back();
}

Family<Histogram>& Registry::AddHistogram(const std::string& name, const std::string& help,
                                          std::vector<double> bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  CheckNew(name);
  histograms_.push_back(
      std::make_unique<Family<Histogram>>(name, help, Type::kHistogram, std::move(bounds)));
  return *histograms_.back();
}

std::string Registry::Serialize() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::ostringstream out;
  for (const std::string& name : order_) {
    for (const auto& f : counters_) {
      if (f->name() != name) continue;
      out << "# HELP " << name << " " << EscapeHelp(f->help()) << "\n# TYPE " << name
          << " counter\n";
      f->ForEach([&](const Labels& l, const Counter& c) {
        out << name << LabelText(l) << " " << Number(c.Value()) << "\n";
      });
    }
    for (const auto& f : gauges_) {
      if (f->name() != name) continue;
      out << "# HELP " << name << " " << EscapeHelp(f->help()) << "\n# TYPE " << name << " gauge\n";
      f->ForEach([&](const Labels& l, const Gauge& g) {
        out << name << LabelText(l) << " " << Number(g.Value()) << "\n";
      });
    }
    for (const auto& f : histograms_) {
      if (f->name() != name) continue;
      out << "# HELP " << name << " " << EscapeHelp(f->help()) << "\n# TYPE " << name
          << " histogram\n";
      f->ForEach([&](const Labels& l, const Histogram& h) {
        const std::vector<uint64_t> counts = h.CumulativeCounts();
        for (size_t i = 0; i < h.bounds().size(); ++i) {
          out << name << "_bucket" << LabelText(l, "le", Number(h.bounds()[i])) << " " << counts[i]
              << "\n";
        }
        out << name << "_bucket" << LabelText(l, "le", "+Inf") << " " << counts.back() << "\n";
        out << name << "_sum" << LabelText(l) << " " << Number(h.Sum()) << "\n";
        out << name << "_count" << LabelText(l) << " " << counts.back() << "\n";
      });
    }
  }
  return out.str();
}

}  // namespace r1rl::metrics
