// client/load.cc -- see load.h. Each thread draws its own random numbers (seeded from the seed
// and its index, so a run repeats) and records every request's latency in its own vector; the
// vectors are merged for the percentiles once the threads have stopped. Nothing is shared
// between threads while they run but the stop flag and the request budget (one atomic each).
#include "client/load.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <iomanip>
#include <random>
#include <thread>
#include <vector>

namespace rc::client {
namespace {

using Clock = std::chrono::steady_clock;

std::string KeyName(std::uint64_t i) { return "key:" + std::to_string(i); }

// Draws key ranks 0..n-1, rank r with probability proportional to 1/(r+1)^s (or uniformly).
class KeyChooser {
 public:
  KeyChooser(std::uint64_t n, bool zipf, double s) : n_(n) {
    if (!zipf) return;
    cdf_.resize(n);
    double sum = 0;
    for (std::uint64_t r = 0; r < n; ++r) {
      sum += 1.0 / std::pow(static_cast<double>(r + 1), s);
      cdf_[r] = sum;
    }
    for (double& c : cdf_) c /= sum;
  }
  std::uint64_t Next(std::mt19937_64& rng) const {
    if (cdf_.empty()) return std::uniform_int_distribution<std::uint64_t>(0, n_ - 1)(rng);
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    const auto it = std::lower_bound(cdf_.begin(), cdf_.end(), u);
    return std::min<std::uint64_t>(it - cdf_.begin(), n_ - 1);
  }

 private:
  std::uint64_t n_;
  std::vector<double> cdf_;  // shared read-only by every thread
};

struct ThreadResult {
  LoadReport counts;
  std::vector<std::uint32_t> latencies_us;
};

}  // namespace

base::Result<LoadReport> RunLoad(
    const LoadOptions& options,
    const std::function<base::Result<std::unique_ptr<Client>>()>& make_client) {
  std::vector<std::unique_ptr<Client>> clients;
  for (std::uint32_t i = 0; i < options.clients; ++i) {
    base::Result<std::unique_ptr<Client>> c = make_client();
    if (!c.ok()) return c.status();
    clients.push_back(std::move(c).value());
  }
  const std::string value(options.value_size, 'v');

  // Fill: every key once, the hot key too, spread over the clients.
  {
    std::atomic<std::uint64_t> next{0};
    std::vector<std::string> errors(clients.size());
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < clients.size(); ++t) {
      threads.emplace_back([&, t] {
        for (std::uint64_t i = next++; i < options.keys && errors[t].empty(); i = next++) {
          base::Status s = clients[t]->Set(KeyName(i), value);
          if (!s.ok()) errors[t] = "fill " + KeyName(i) + ": " + s.message();
        }
      });
    }
    for (std::thread& th : threads) th.join();
    for (const std::string& e : errors) {
      if (!e.empty()) return base::Status::IoError(e);
    }
    if (!options.hot_key.empty()) {
      base::Status s = clients[0]->Set(options.hot_key, value);
      if (!s.ok()) return base::Status::IoError("fill " + options.hot_key + ": " + s.message());
    }
  }

  const KeyChooser chooser(options.keys, options.zipf, options.zipf_s);
  std::atomic<std::int64_t> budget(options.requests ? static_cast<std::int64_t>(*options.requests)
                                                    : INT64_MAX);
  std::atomic<bool> stop{false};
  std::vector<ThreadResult> results(clients.size());
  const Clock::time_point start = Clock::now();
  const Clock::time_point end =
      options.duration ? start + *options.duration : Clock::time_point::max();
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < clients.size(); ++t) {
    threads.emplace_back([&, t] {
      Client& client = *clients[t];
      ThreadResult& r = results[t];
      std::mt19937_64 rng(options.seed * 1000003 + t);
      std::uniform_int_distribution<std::uint32_t> op(0, options.sets + options.gets - 1);
      std::uniform_real_distribution<double> share(0, 1);
      while (!stop.load(std::memory_order_relaxed) && budget.fetch_sub(1) > 0) {
        // The clock is read for every request anyway; the deadline costs one compare.
        const Clock::time_point t0 = Clock::now();
        if (t0 >= end) break;
        const bool is_set = op(rng) < options.sets;
        bool ok = true;
        std::string error;
        if (is_set) {
          base::Status s = client.Set(KeyName(chooser.Next(rng)), value);
          ok = s.ok();
          if (!ok) error = s.message();
          ++r.counts.sets;
        } else {
          const bool hot = !options.hot_key.empty() && share(rng) < options.hot_share;
          const std::string key = hot ? options.hot_key : KeyName(chooser.Next(rng));
          base::Result<std::optional<Item>> got = client.Get(key);
          ok = got.ok();
          if (ok && got.value()) ++r.counts.hits;
          if (!ok) error = got.status().message();
          ++r.counts.gets;
        }
        if (!ok) {
          ++r.counts.errors;
          if (r.counts.first_error.empty()) r.counts.first_error = error;
        }
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0);
        r.latencies_us.push_back(
            static_cast<std::uint32_t>(std::min<std::int64_t>(us.count(), UINT32_MAX)));
      }
      stop.store(true, std::memory_order_relaxed);  // one client out of budget or time: all stop
    });
  }
  for (std::thread& th : threads) th.join();

  LoadReport report;
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<std::uint32_t> all;
  for (ThreadResult& r : results) {
    report.gets += r.counts.gets;
    report.hits += r.counts.hits;
    report.sets += r.counts.sets;
    report.errors += r.counts.errors;
    if (report.first_error.empty()) report.first_error = r.counts.first_error;
    all.insert(all.end(), r.latencies_us.begin(), r.latencies_us.end());
  }
  if (!all.empty()) {
    std::sort(all.begin(), all.end());
    const auto at = [&](double q) {
      return all[std::min<std::size_t>(all.size() - 1, static_cast<std::size_t>(q * all.size()))];
    };
    report.p50_us = at(0.50);
    report.p99_us = at(0.99);
    report.p999_us = at(0.999);
    report.max_us = all.back();
  }
  return report;
}

void PrintReport(const LoadReport& report, std::ostream& out) {
  const std::uint64_t total = report.gets + report.sets;
  out << std::fixed << std::setprecision(2);
  out << "requests " << total << " in " << report.seconds << " s: "
      << std::setprecision(0) << (report.seconds > 0 ? total / report.seconds : 0) << " req/s\n";
  out << "gets " << report.gets << " hits " << report.hits << " sets " << report.sets
      << " errors " << report.errors << "\n";
  out << "latency_us p50 " << report.p50_us << " p99 " << report.p99_us << " p99.9 "
      << report.p999_us << " max " << report.max_us << "\n";
  if (!report.first_error.empty()) out << "first_error " << report.first_error << "\n";
}

}  // namespace rc::client
