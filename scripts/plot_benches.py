#!/usr/bin/env python3
"""Plots and tables from criterion's saved results (Python 3 standard library only).

Reads every ``<criterion dir>/**/new/benchmark.json`` (the group, function and
parameter names) and the ``new/estimates.json`` beside it (criterion's
``median.point_estimate``, in nanoseconds per iteration), then:

* writes one SVG line plot per ``fan_out/<runtime>`` group to the output
  folder (``fan_out_<runtime>.svg``): the batch size N on the x axis (log
  scale), the time per task (median / N, in ns) on the y axis (log scale
  too), one line per contender;
* with ``--markdown``, prints a Markdown table per group to stdout: the
  median of every contender (per task, for the fan-out groups) and its ratio
  to a reference (the first ``--reference`` contender the group has, else
  the group's best).

A result saved more than ``STALE_S`` (30 minutes) before the newest one of
its group is left out: it belongs to a contender renamed or removed since.

Regenerate the fan-out plots (from the repository root):

    cargo bench --bench fan_out && python3 scripts/plot_benches.py

Options: ``--criterion DIR`` (default ``target/criterion``), ``--out DIR``
(default ``docs/plots``), ``--markdown``, ``--reference NAME[,NAME..]``,
``--group PREFIX`` (only the groups whose name starts with it).
"""

import argparse
import json
import math
import os
import signal
import sys
from xml.sax.saxutils import escape

# Contenders drawn solid and thick (this crate's); the rest are peers.
OURS = (
    "errgroup_",
    "waitgroup_spawn",
    "waitgroup_enter",
    "waitgroup_keep_handles",
    "map_concurrent",
    "taskgroup",
)

# Older than the newest result of the same group by more than this: stale.
STALE_S = 30 * 60

# The fan-out target's reference peer, drawn in black, and its two
# diagnostic variants in greys.
REFERENCE_COLOURS = {
    "vec_handles": "#000000",
    "vec_handles_48b": "#666666",
    "counted_handles": "#aaaaaa",
}

# Twelve colours that stay apart (Tableau 10 and two more).
PALETTE = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#17becf", "#7f7f7f",
]


def load(criterion_dir):
    """Every saved benchmark: a list of dicts (group, function, value, median_ns)."""
    results = []
    for root, _dirs, files in os.walk(criterion_dir):
        if os.path.basename(root) != "new" or "benchmark.json" not in files:
            continue
        with open(os.path.join(root, "benchmark.json")) as f:
            bench = json.load(f)
        estimates_path = os.path.join(root, "estimates.json")
        if not os.path.exists(estimates_path):
            continue
        with open(estimates_path) as f:
            estimates = json.load(f)
        results.append(
            {
                "group": bench["group_id"],
                "function": bench.get("function_id") or "",
                "value": bench.get("value_str"),
                "median_ns": estimates["median"]["point_estimate"],
                "saved": os.path.getmtime(estimates_path),
            }
        )
    return results


def by_group(results):
    """Results per group, without the stale ones."""
    groups = {}
    for r in results:
        groups.setdefault(r["group"], []).append(r)
    for name, rows in groups.items():
        newest = max(r["saved"] for r in rows)
        groups[name] = [r for r in rows if newest - r["saved"] <= STALE_S]
    return groups


def fmt_time(ns):
    """Three significant digits in the largest unit that keeps the value at 1 or more."""
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3), ("ns", 1.0)):
        if ns >= scale or unit == "ns":
            value = ns / scale
            digits = 0 if value >= 100 else 1 if value >= 10 else 2
            return "%.*f %s" % (digits, value, unit)
    raise AssertionError("unreachable")


def is_ours(name):
    return name.startswith(OURS)


def svg_line_plot(title, series, x_label, y_label):
    """series: {name: [(x, y), ...]} with x > 0; x on a log scale."""
    width, height = 820, 480
    left, right, top, bottom = 80, 250, 50, 65
    plot_w, plot_h = width - left - right, height - top - bottom
    xs = sorted({x for points in series.values() for x, _ in points})
    x_lo, x_hi = math.log10(xs[0]), math.log10(xs[-1])
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1
    ys = [y for points in series.values() for _, y in points]
    y_lo, y_hi = math.log10(min(ys) / 1.25), math.log10(max(ys) * 1.25)

    def px(x):
        return left + (math.log10(x) - x_lo) / (x_hi - x_lo) * plot_w

    def py(y):
        return top + plot_h - (math.log10(y) - y_lo) / (y_hi - y_lo) * plot_h

    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
        'viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">' % (width, height, width, height),
        '<rect width="100%" height="100%" fill="white"/>',
        '<text x="%d" y="28" font-size="16" font-weight="bold">%s</text>' % (left, escape(title)),
    ]
    # Grid and y ticks: 1, 2 and 5 times each power of ten in range.
    for decade in range(int(math.floor(y_lo)), int(math.ceil(y_hi)) + 1):
        for step in (1, 2, 5):
            y = step * 10 ** decade
            if not (y_lo <= math.log10(y) <= y_hi):
                continue
            out.append(
                '<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>'
                % (left, py(y), left + plot_w, py(y), "#ccc" if step == 1 else "#eee")
            )
            out.append(
                '<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>'
                % (left - 6, py(y), "{:,}".format(int(y)) if y >= 1 else "%g" % y)
            )
    # Decade grid lines and x ticks.
    for decade in range(int(math.floor(x_lo)), int(math.ceil(x_hi)) + 1):
        x = 10 ** decade
        if not (x_lo - 1e-9 <= decade <= x_hi + 1e-9):
            continue
        out.append(
            '<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (px(x), top, px(x), top + plot_h)
        )
        out.append(
            '<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (px(x), top + plot_h + 18, "{:,}".format(x))
        )
    # Axes.
    out.append(
        '<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>' % (left, top, plot_w, plot_h)
    )
    out.append(
        '<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
        % (left + plot_w / 2, height - 20, escape(x_label))
    )
    out.append(
        '<text transform="translate(%d %.1f) rotate(-90)" text-anchor="middle">%s</text>'
        % (22, top + plot_h / 2, escape(y_label))
    )
    # Lines, ours first in the legend.
    names = sorted(series, key=lambda name: (not is_ours(name), name))
    peers = 0
    for k, name in enumerate(names):
        if name in REFERENCE_COLOURS:
            colour = REFERENCE_COLOURS[name]
        else:
            colour = PALETTE[peers % len(PALETTE)]
            peers += 1
        points = sorted(series[name])
        ours = is_ours(name)
        stroke = 'stroke-width="%s"%s' % ("2.5" if ours else "1.5", "" if ours else ' stroke-dasharray="6 3"')
        out.append(
            '<polyline fill="none" stroke="%s" %s points="%s"/>'
            % (colour, stroke, " ".join("%.1f,%.1f" % (px(x), py(y)) for x, y in points))
        )
        for x, y in points:
            out.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (px(x), py(y), colour))
        ly = top + 8 + k * 18
        lx = left + plot_w + 16
        out.append(
            '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" %s/>' % (lx, ly, lx + 26, ly, colour, stroke)
        )
        out.append(
            '<text x="%d" y="%d" dominant-baseline="middle"%s>%s</text>'
            % (lx + 32, ly, ' font-weight="bold"' if ours else "", escape(name))
        )
    for k, line in enumerate(("solid: taskgroup", "dashed: peers", "lower is better")):
        out.append(
            '<text x="%d" y="%d" fill="#555">%s</text>'
            % (left + plot_w + 16, top + 16 + (len(names) + k) * 18, line)
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def fan_out_plots(groups, out_dir):
    written = []
    for group, rows in sorted(groups.items()):
        if not group.startswith("fan_out/"):
            continue
        runtime = group.split("/", 1)[1]
        series = {}
        for r in rows:
            if r["value"] is None:
                continue
            n = int(r["value"])
            series.setdefault(r["function"], []).append((n, r["median_ns"] / n))
        if not series:
            continue
        svg = svg_line_plot(
            "Fan-out/fan-in on %s: time per task" % runtime,
            series,
            "tasks per batch, N (log scale)",
            "time per task, ns (criterion median / N, log scale)",
        )
        os.makedirs(out_dir, exist_ok=True)
        path = os.path.join(out_dir, "fan_out_%s.svg" % runtime)
        with open(path, "w") as f:
            f.write(svg)
        written.append(path)
    return written


def markdown(groups, references, prefix):
    """A table per group. Parameterized groups (fan-out) show the time per
    task (median / N) for each N; the others the median. Ratios are to the
    first of `references` the group has, else to the group's best."""
    for group, rows in sorted(groups.items()):
        if prefix and not group.startswith(prefix):
            continue
        sizes = sorted({r["value"] for r in rows if r["value"] is not None}, key=float)
        columns = sizes or [None]
        functions = sorted({r["function"] for r in rows}, key=lambda name: (not is_ours(name), name))
        median = {(r["function"], r["value"]): r["median_ns"] for r in rows}
        reference = next((ref for ref in references if any(f == ref for f, _ in median)), None)
        against = "`%s`" % reference if reference else "best"
        header = ["contender"]
        for v in columns:
            if v is None:
                header += ["median", "vs %s" % against]
            else:
                header += ["N=%s, per task" % "{:,}".format(int(v)), "vs %s" % against]
        print("\n`%s`:\n" % group)
        print("| " + " | ".join(header) + " |")
        print("|---" + "|---:" * (len(header) - 1) + "|")
        for name in functions:
            cells = ["**`%s`**" % name if is_ours(name) else "`%s`" % name]
            for v in columns:
                m = median.get((name, v))
                if m is None:
                    cells += ["—", "—"]
                    continue
                if reference and (reference, v) in median:
                    base = median[(reference, v)]
                else:
                    base = min(median[(f, v)] for f in functions if (f, v) in median)
                cells.append(fmt_time(m if v is None else m / int(v)))
                cells.append("%.2fx" % (m / base))
            print("| " + " | ".join(cells) + " |")


def main():
    # Quiet exit when the output is piped into `head`.
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--criterion", default=os.path.join("target", "criterion"))
    parser.add_argument("--out", default=os.path.join("docs", "plots"))
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables instead of plotting")
    parser.add_argument(
        "--reference",
        default="",
        help="comma-separated contenders the ratios are taken against (the first a group has)",
    )
    parser.add_argument("--group", default="", help="only groups whose name starts with this")
    args = parser.parse_args()

    results = load(args.criterion)
    if not results:
        sys.exit("no criterion results under %s: run `cargo bench` first" % args.criterion)
    groups = by_group(results)
    if args.markdown:
        markdown(groups, [ref for ref in args.reference.split(",") if ref], args.group)
        return
    written = fan_out_plots(groups, args.out)
    if not written:
        sys.exit("no fan_out/<runtime> results: run `cargo bench --bench fan_out` first")
    for path in written:
        print("wrote", path)


if __name__ == "__main__":
    main()
