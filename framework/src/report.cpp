#include "unroll/host/report.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "unroll/error.hpp"
#include "unroll/files.hpp"

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace unroll {

namespace {

// Continued fraction of the incomplete beta function (modified Lentz), Numerical Recipes 6.4.
double beta_cf(double a, double b, double x) {
  const int kMaxIter = 300;
  const double kEps = 1e-15, kTiny = 1e-300;
  const double qab = a + b, qap = a + 1, qam = a - 1;
  double c = 1, d = 1 - qab * x / qap;
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= kMaxIter; ++m) {
    const int m2 = 2 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < kEps) break;
  }
  return h;
}

std::string fmt(double v, int prec = 4) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", prec, v);
  return buf;
}

std::string fmt_p(double p) {
  if (!std::isfinite(p)) return "n/a";
  if (p < 1e-4) return "<1e-4";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", p);
  return buf;
}

std::string csv_num(double v) {
  if (!std::isfinite(v)) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string md_cell(std::string s) {
  for (auto& c : s)
    if (c == '|' || c == '\n') c = c == '|' ? '/' : ' ';
  return s;
}

}  // namespace

SampleStats sample_stats(const std::vector<double>& x) {
  SampleStats s;
  s.n = static_cast<int>(x.size());
  if (x.empty()) {
    s.mean = s.sd = std::numeric_limits<double>::quiet_NaN();
    return s;
  }
  double sum = 0;
  for (double v : x) sum += v;
  s.mean = sum / s.n;
  if (s.n < 2) {
    s.sd = std::numeric_limits<double>::quiet_NaN();
    return s;
  }
  double sq = 0;
  for (double v : x) sq += (v - s.mean) * (v - s.mean);
  s.sd = std::sqrt(sq / (s.n - 1));
  return s;
}

double incomplete_beta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double front =
      std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x));
  // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
  if (x < (a + 1) / (a + b + 2)) return front * beta_cf(a, b, x) / a;
  return 1 - front * beta_cf(b, a, 1 - x) / b;
}

double student_t_cdf(double t, double df) {
  if (std::isinf(t)) return t > 0 ? 1 : 0;
  const double tail = 0.5 * incomplete_beta(df / 2, 0.5, df / (df + t * t));  // P(T > |t|)
  return t >= 0 ? 1 - tail : tail;
}

double student_t_quantile(double p, double df) {
  if (p <= 0) return -std::numeric_limits<double>::infinity();
  if (p >= 1) return std::numeric_limits<double>::infinity();
  double lo = -1, hi = 1;
  while (student_t_cdf(lo, df) > p) lo *= 2;
  while (student_t_cdf(hi, df) < p) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-12 * std::max(1.0, std::fabs(hi)); ++i) {
    const double mid = 0.5 * (lo + hi);
    (student_t_cdf(mid, df) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

WelchResult welch_test(const std::vector<double>& a, const std::vector<double>& b, double level) {
  WelchResult r;
  const SampleStats sa = sample_stats(a), sb = sample_stats(b);
  if (sa.n == 0 || sb.n == 0) return r;
  r.diff = sa.mean - sb.mean;
  if (sa.n < 2 || sb.n < 2) return r;
  r.valid = true;
  const double va = sa.sd * sa.sd / sa.n, vb = sb.sd * sb.sd / sb.n;
  r.se = std::sqrt(va + vb);
  if (r.se == 0) {
    r.t = r.diff == 0 ? 0 : std::copysign(std::numeric_limits<double>::infinity(), r.diff);
    r.df = sa.n + sb.n - 2;
    r.p = r.diff == 0 ? 1 : 0;
    r.ci_low = r.ci_high = r.diff;
    return r;
  }
  r.t = r.diff / r.se;
  // Welch-Satterthwaite degrees of freedom.
  r.df = (va + vb) * (va + vb) / (va * va / (sa.n - 1) + vb * vb / (sb.n - 1));
  r.p = std::min(1.0, 2 * (1 - student_t_cdf(std::fabs(r.t), r.df)));
  const double q = student_t_quantile(0.5 + level / 2, r.df);
  r.ci_low = r.diff - q * r.se;
  r.ci_high = r.diff + q * r.se;
  return r;
}

std::string write_report(const std::string& sweep_dir, const ReportOptions& opt) {
  const fs::path dir = sweep_dir;
  const fs::path man_path = dir / "sweep.json";
  if (!fs::exists(man_path))
    throw Error(sweep_dir + " is not a sweep folder (no sweep.json); run `unroll sweep FILE --out " + sweep_dir +
                "` first");
  Json man;
  try {
    man = Json::parse(read_file(man_path.string()));
  } catch (const std::exception& e) {
    throw Error(man_path.string() + ": cannot parse: " + e.what());
  }
  struct Metric {
    std::string name;
    bool higher;
  };
  std::vector<Metric> metrics{
      {man["metric"]["name"].get<std::string>(), man["metric"]["higher_is_better"].get<bool>()}};
  for (const auto& m : man["metrics"])
    if (m["name"].get<std::string>() != metrics[0].name) metrics.push_back({m["name"], m["higher_is_better"]});

  struct Row {
    std::string name, dir;
    std::map<std::string, std::vector<double>> values;
    std::vector<double> sec_per_epoch;
    int runs = 0, completed = 0;
    std::vector<std::string> failures;  // "seed S: error"
  };
  std::vector<Row> rows;
  for (const auto& v : man["variants"]) {
    Row row;
    row.name = v["name"];
    row.dir = v["dir"];
    for (const auto& s : man["seeds"]) {
      const long long seed = s.get<long long>();
      const fs::path run = dir / "runs" / row.dir / ("seed" + std::to_string(seed));
      ++row.runs;
      Json sum, rec;
      try {
        if (fs::exists(run / "summary.json")) sum = Json::parse(read_file((run / "summary.json").string()));
        if (fs::exists(run / "sweep_run.json")) rec = Json::parse(read_file((run / "sweep_run.json").string()));
      } catch (...) {
      }
      const std::string status = sum.is_object() ? sum.value("status", "") : "";
      if (status == "completed") {
        ++row.completed;
        for (const auto& m : metrics)
          if (sum["final"].contains(m.name) && sum["final"][m.name].is_number())
            row.values[m.name].push_back(sum["final"][m.name].get<double>());
        if (sum.contains("seconds_per_epoch")) row.sec_per_epoch.push_back(sum["seconds_per_epoch"].get<double>());
      } else {
        std::string err = rec.is_object() && rec.contains("error")   ? rec["error"].get<std::string>()
                          : sum.is_object() && sum.contains("error") ? sum["error"].get<std::string>()
                          : fs::exists(run)                          ? "interrupted (no final summary)"
                                                                     : "not run yet";
        // A task that Slurm ended: its state and exit code, as sacct/scontrol reported them.
        if (rec.is_object() && rec.contains("slurm") && rec["slurm"].contains("state")) {
          const Json& sl = rec["slurm"];
          err += " [Slurm " + sl["state"].get<std::string>() +
                 (sl.contains("exit_code") ? ", exit code " + sl["exit_code"].get<std::string>() : "") +
                 (sl.contains("job") ? ", job " + sl["job"].get<std::string>() : "") + "]";
        }
        row.failures.push_back("seed " + std::to_string(seed) + ": " + err);
      }
    }
    rows.push_back(std::move(row));
  }
  if (rows.empty()) throw Error(man_path.string() + ": the sweep has no variants");
  const Row base = rows[0];
  const Metric& main = metrics[0];

  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto key = [&](size_t i) {
    auto it = rows[i].values.find(main.name);
    if (it == rows[i].values.end() || it->second.empty()) return std::numeric_limits<double>::quiet_NaN();
    return sample_stats(it->second).mean;
  };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const double ka = key(a), kb = key(b);
    if (std::isnan(ka) || std::isnan(kb)) return !std::isnan(ka) && std::isnan(kb);
    return main.higher ? ka > kb : ka < kb;
  });

  // CSV: one row per variant and metric.
  std::string csv =
      "rank,variant,metric,higher_is_better,n,runs,failed,mean,sd,diff,ci_low,ci_high,t,df,p,seconds_per_epoch\n";
  std::ostringstream md;
  const std::string name = man.value("name", std::string("sweep"));
  md << "# Sweep report: " << name << "\n\n";
  md << "Sweep file: `" << man.value("file", std::string("?")) << "`  \n";
  md << "Seeds: ";
  for (size_t i = 0; i < man["seeds"].size(); ++i) md << (i ? ", " : "") << man["seeds"][i].get<long long>();
  md << "  \nMain metric: **" << main.name << "** (" << (main.higher ? "higher" : "lower")
     << " is better); the table is sorted by it, best first.  \n";
  md << "Δ = variant − base, with a Welch 95% confidence interval and two-sided p-value (n ≥ 2 seeds on both "
        "sides).\n\n";

  md << "| rank | variant | n |";
  for (const auto& m : metrics) md << " " << m.name << " (mean ± sd) |";
  md << " Δ " << main.name << " [95% CI] | p |";
  for (size_t k = 1; k < metrics.size(); ++k) md << " Δ " << metrics[k].name << " | p |";
  md << " s/epoch |\n|---:|---|---:|";
  for (size_t k = 0; k < metrics.size(); ++k) md << "---|";
  md << "---|---:|";
  for (size_t k = 1; k < metrics.size(); ++k) md << "---|---:|";
  md << "---:|\n";

  int rank = 0;
  int failed_runs = 0;
  for (size_t i : order) {
    const Row& r = rows[i];
    failed_runs += static_cast<int>(r.failures.size());
    ++rank;
    const bool is_base = i == 0;
    const double spe = r.sec_per_epoch.empty() ? NAN : sample_stats(r.sec_per_epoch).mean;
    md << "| " << rank << " | " << md_cell(r.name) << (is_base && r.name != "base" ? " (base)" : "") << " | "
       << r.completed << "/" << r.runs << " |";
    std::vector<std::string> deltas;
    for (const auto& m : metrics) {
      const auto it = r.values.find(m.name);
      const std::vector<double> vals = it == r.values.end() ? std::vector<double>{} : it->second;
      const auto bit = base.values.find(m.name);
      const std::vector<double> bvals = bit == base.values.end() ? std::vector<double>{} : bit->second;
      const SampleStats s = sample_stats(vals);
      const WelchResult w = is_base ? WelchResult{} : welch_test(vals, bvals);
      md << " " << (s.n ? fmt(s.mean) + (s.n > 1 ? " ± " + fmt(s.sd, 2) : "") : "—") << " |";
      std::string d, p;
      if (is_base || s.n == 0 || bvals.empty()) {
        d = "—";
        p = "—";
      } else if (!w.valid) {
        d = (w.diff >= 0 ? "+" : "") + fmt(w.diff) + " (n < 2)";
        p = "—";
      } else {
        d = (w.diff >= 0 ? "+" : "") + fmt(w.diff) + " [" + fmt(w.ci_low) + ", " + fmt(w.ci_high) + "]";
        p = fmt_p(w.p);
      }
      deltas.push_back(d + " | " + p);
      csv += std::to_string(rank) + "," + csv_field(r.name) + "," + csv_field(m.name) + "," +
             (m.higher ? "true" : "false") + "," + std::to_string(s.n) + "," + std::to_string(r.runs) + "," +
             std::to_string(r.failures.size()) + "," + csv_num(s.n ? s.mean : NAN) + "," + csv_num(s.sd) + "," +
             csv_num(is_base || s.n == 0 || bvals.empty() ? NAN : w.diff) + "," + csv_num(w.valid ? w.ci_low : NAN) +
             "," + csv_num(w.valid ? w.ci_high : NAN) + "," + csv_num(w.valid ? w.t : NAN) + "," +
             csv_num(w.valid ? w.df : NAN) + "," + csv_num(w.valid ? w.p : NAN) + "," + csv_num(spe) + "\n";
    }
    for (const auto& d : deltas) md << " " << d << " |";
    md << " " << fmt(spe, 3) << " |\n";
  }
  if (failed_runs) {
    md << "\n## Failed or missing runs (" << failed_runs << ")\n\n";
    for (const auto& r : rows)
      for (const auto& f : r.failures) md << "- **" << md_cell(r.name) << "**, " << f.substr(0, 600) << "\n";
  }

  md << provenance_report(sweep_dir);
  write_file_atomic((dir / "report.csv").string(), csv);

  // Plots: optional, by a Python helper.
  bool plotted = false;
  if (!opt.plot_script.empty()) {
    std::string why;
    if (!fs::exists(opt.python))
      why = opt.python + " not found";
    else if (!fs::exists(opt.plot_script))
      why = opt.plot_script + " not found";
    else {
      const std::string cmd =
          "'" + opt.python + "' '" + opt.plot_script + "' '" + fs::absolute(dir).string() + "' 2>&1";
      FILE* p = ::popen(cmd.c_str(), "r");
      std::string out;
      if (p) {
        char buf[512];
        while (std::fgets(buf, sizeof buf, p)) out += buf;
        const int st = ::pclose(p);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
          plotted = true;
        else
          why = "the plot script failed: " + out.substr(0, 600);
      } else {
        why = "cannot start " + opt.python;
      }
    }
    if (!plotted && !opt.quiet) std::fprintf(stderr, "report: warning: no plots (%s)\n", why.c_str());
  }
  if (plotted) {
    md << "\n## Plots\n\n";
    if (fs::exists(dir / "plots" / "curves.png"))
      md << "Learning curves (mean over seeds, band: ± sd):\n\n![learning curves](plots/curves.png)\n\n";
    if (fs::exists(dir / "plots" / "bars.png"))
      md << main.name << " per variant (error bars: ± sd over seeds):\n\n![" << main.name << "](plots/bars.png)\n";
  }
  const std::string text = md.str();
  write_file_atomic((dir / "report.md").string(), text);
  return text;
}

}  // namespace unroll
