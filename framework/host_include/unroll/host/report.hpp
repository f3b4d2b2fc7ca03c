#pragma once
// The statistical report of a sweep: per variant and metric, mean +- sd over seeds, the
// difference from the base with a Welch 95% confidence interval and two-sided p-value, and
// seconds per epoch; written as report.md and report.csv, plus PNG plots via tools/plot_sweep.py.
#include <string>
#include <vector>

namespace unroll {

/// n, mean and sample standard deviation (n - 1 in the denominator; NaN when n < 2).
struct SampleStats {
  int n = 0;
  double mean = 0, sd = 0;
};
SampleStats sample_stats(const std::vector<double>& x);

/// Welch's unequal-variance t-test of mean(a) - mean(b).
struct WelchResult {
  bool valid = false;  // both samples have n >= 2
  double diff = 0, se = 0, t = 0, df = 0, p = 1, ci_low = 0, ci_high = 0;
};
/// `level` is the confidence level of the interval (0.95). With se == 0 the interval is the
/// point and p is 1 if the means agree, else 0.
WelchResult welch_test(const std::vector<double>& a, const std::vector<double>& b, double level = 0.95);

/// The regularized incomplete beta function I_x(a, b) (continued fraction, Numerical Recipes 6.4).
double incomplete_beta(double a, double b, double x);
/// P(T <= t) for Student's t with df degrees of freedom (df > 0, not necessarily integral).
double student_t_cdf(double t, double df);
/// The p-quantile of Student's t (bisection on student_t_cdf).
double student_t_quantile(double p, double df);

struct ReportOptions {
  std::string plot_script;  // tools/plot_sweep.py; "" skips the plots
  std::string python = "/usr/bin/python3";
  bool quiet = false;  // no warning on stderr when plots are skipped
};

/// Read SWEEP_DIR (sweep.json + each run's summary.json / sweep_run.json) and write report.md
/// and report.csv there; run the plot script when given. Returns the text of report.md.
std::string write_report(const std::string& sweep_dir, const ReportOptions& opt = {});

/// The "Provenance" section of report.md: the runs whose provenance.json differs from the
/// sweep's first run in what produced them (unroll commit and dirty flag, build, library
/// versions, plugin libraries' and data files' SHA-256, machine), each with what differs; or
/// one line saying that all agree.
std::string provenance_report(const std::string& sweep_dir);

}  // namespace unroll
