// Prometheus metrics: counters, gauges and histograms with labels, in a registry that
// serialises to the text exposition format (version 0.0.4). The interface follows
// prometheus-cpp (not packaged by Debian):
//
//   Registry registry;
//   auto& dropped = registry.AddCounter("r1rl_grader_dropped_total", "Messages dropped, by
//   reason."); dropped.Add({{"reason", "oversized"}}).Increment(); auto& latency =
//   registry.AddHistogram("r1rl_grader_latency_seconds", "Grading latency.",
//                                         ExponentialBuckets(0.001, 4, 8));
//   latency.Add({}).Observe(0.012);
//   std::string text = registry.Serialize();
//
// Names follow Prometheus conventions: [a-zA-Z_:][a-zA-Z0-9_:]*, counters end in _total;
// a bad name or label name is a programming error (CHECK at registration).
//
// Thread-safety: everything is thread-safe; Increment/Set/Observe are lock-free on the
// metric (atomics); Add takes the family's lock.
#ifndef R1RL_LIB_METRICS_METRICS_H_
#define R1RL_LIB_METRICS_METRICS_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace r1rl::metrics {

using Labels = std::map<std::string, std::string>;

class Counter {
 public:
  void Increment(double by = 1.0);  // by >= 0 (negative values are ignored)
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Increment(double by = 1.0);
  void Decrement(double by = 1.0) { Increment(-by); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);  // upper bounds, increasing; +Inf implied
  void Observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative counts per bound (then +Inf), sum, count: a consistent-enough snapshot.
  std::vector<uint64_t> CumulativeCounts() const;
  double Sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // one per bound, plus +Inf
  std::atomic<double> sum_{0.0};
};

// `start`, `start*factor`, … (`count` bounds).
std::vector<double> ExponentialBuckets(double start, double factor, int count);
std::vector<double> LinearBuckets(double start, double width, int count);

enum class Type { kCounter, kGauge, kHistogram };

// All metrics of one name, one per label set.
template <typename T>
class Family {
 public:
  Family(std::string name, std::string help, Type type, std::vector<double> bounds = {})
      : name_(std::move(name)), help_(std::move(help)), type_(type), bounds_(std::move(bounds)) {}
  // The metric with these labels, created on first use; the reference stays valid.
  T& Add(const Labels& labels);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  Type type() const { return type_; }
  // Calls fn(labels, metric) for each, in label order, under the family's lock.
  template <typename Fn>
  void ForEach(Fn fn) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [labels, metric] : metrics_) fn(labels, *metric);
  }

 private:
  std::string name_, help_;
  Type type_;
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::map<Labels, std::unique_ptr<T>> metrics_;
};

class Registry {
 public:
  Family<Counter>& AddCounter(const std::string& name, const std::string& help);
  Family<Gauge>& AddGauge(const std::string& name, const std::string& help);
  Family<Histogram>& AddHistogram(const std::string& name, const std::string& help,
                                  std::vector<double> bounds);
  // The counter or gauge family `name`, registered now when it is new (for families several
  // parts of a process share, such as the security counters).
  Family<Counter>& GetOrAddCounter(const std::string& name, const std::string& help);
  Family<Gauge>& GetOrAddGauge(const std::string& name, const std::string& help);
  // Text exposition format 0.0.4.
  std::string Serialize() const;

 private:
  void CheckNew(const std::string& name);
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family<Counter>>> counters_;
  std::vector<std::unique_ptr<Family<Gauge>>> gauges_;
  std::vector<std::unique_ptr<Family<Histogram>>> histograms_;
  std::vector<std::string> order_;  // names, in registration order
};

}  // namespace r1rl::metrics

#endif  // R1RL_LIB_METRICS_METRICS_H_
