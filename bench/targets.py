"""The issue's targets, and how each measured figure reads against them."""

from __future__ import annotations

from typing import Any

#: Figures judged only at full size (1,000 reps); smaller runs show how cost grows.
FULL_REPS = 1_000
SUMMARY_MS = {"/summary month (company)": 300.0, "/overdue first page (company)": 100.0}
SWEEP_SECONDS = 5.0
PUSH_FRACTION = 0.9
THROUGHPUT_RATIO = 0.5
P99_MS = 50.0
RSS_MB = 200.0
EXPORT_SECONDS = 5.0  # issue 24: /export month for the full company
#: Issue 24, ten times the company (``python -m bench --scale 10``): judged at 10,000 reps.
TEN_TIMES_REPS = 10_000
TEN_TIMES_SUMMARY_MS = {"/summary month (company)": 500.0, "/overdue first page (company)": 100.0}
TEN_TIMES_SWEEP_SECONDS = 10.0


def judge(figure: dict[str, Any], *, full_run: bool = True) -> tuple[str, str, bool | None]:
    """(measured value, target, met — None when no target applies to this figure at this size, or
    in a quick run, whose tiny loads say nothing about the targets)."""
    value, target, met = _judge(figure)
    return value, target, met if full_run else None


def _judge(figure: dict[str, Any]) -> tuple[str, str, bool | None]:
    name = figure["figure"]
    full = figure.get("reps") == FULL_REPS
    if figure.get("reps") == TEN_TIMES_REPS:
        return _judge_ten_times(figure)
    if name.startswith("sweep "):
        rss = f", peak RSS {figure['peak_rss_mb']:.0f} MB" if "peak_rss_mb" in figure else ""
        met = (figure["seconds"] < SWEEP_SECONDS and figure.get("peak_rss_mb", 0) < RSS_MB) if full else None
        return (
            f"{figure['seconds']:.2f} s, {figure['pushes']} pushes{rss}",
            f"< {SWEEP_SECONDS:g} s, < {RSS_MB:g} MB",
            met,
        )
    if name.startswith("/export month"):
        rss = max(figure["peak_rss_mb"], figure.get("helper_peak_rss_mb", 0))  # each process's own
        met = (figure["seconds"] < EXPORT_SECONDS and rss < RSS_MB) if full else None
        return (
            f"{figure['seconds']:.2f} s, peak RSS {rss:.0f} MB, {figure['what']}",
            f"< {EXPORT_SECONDS:g} s, < {RSS_MB:g} MB",
            met,
        )
    if name == "generate company":
        return f"{figure['seconds']:.1f} s, {figure['rows']:,} rows", "", None
    if name == "visit months: first build":
        return f"{figure['seconds']:.1f} s", "", None
    if "ms" in figure:
        limit = SUMMARY_MS.get(name)
        target = f"< {limit:g} ms" if limit else ""
        met = figure["ms"] < limit if limit and full else None
        return _latency(figure), target, met
    if name == "push delivery":
        met = (
            figure["fraction_of_30"] >= PUSH_FRACTION
            and not figure["lost"]
            and not figure["duplicated"]
            and not figure["left_unsent"]
        )
        return (
            f"{figure['fraction_of_30']:.2f}×30/s, {figure['http_429']} 429s, "
            f"lost {figure['lost']}, dup {figure['duplicated']}",
            f"≥ {PUSH_FRACTION:g}×, 0 lost/dup",
            met,
        )
    if name.startswith("morning wave"):
        met = not (figure["lost"] or figure["doubled"] or figure["wrong_text"] or figure["left_unsent"])
        return (
            f"{figure['per_second']}/s, last {figure['to_last_delivery_s']} s "
            f"(urgent {figure['to_last_urgent_s']} s), lost {figure['lost']}, dup {figure['doubled']}",
            "0 lost/dup",
            met,
        )
    if name == "throughput ratio":
        met = figure["ratio"] >= THROUGHPUT_RATIO
        return f"{figure['ratio']:.2f} × floor", f"≥ {THROUGHPUT_RATIO:g}×", met
    if name.startswith("throughput "):
        cpu = f", {figure['cpu_ms_per_update']:.0f} ms CPU/upd" if "cpu_ms_per_update" in figure else ""
        return (f"{figure['updates_per_second']:.0f} upd/s, p99 {figure['p99_ms']:.0f} ms{cpu}", "", None)
    if name.startswith("paced "):
        met = figure["p99_ms"] < P99_MS if figure["rate"] >= 100 else None
        return (
            f"p50 {figure['p50_ms']:.0f} / p95 {figure['p95_ms']:.0f} / p99 {figure['p99_ms']:.0f} ms",
            f"p99 < {P99_MS:g} ms @100/s",
            met,
        )
    if name == "bot peak RSS":
        return f"{figure['peak_rss_mb']:.0f} MB", f"< {RSS_MB:g} MB", figure["peak_rss_mb"] < RSS_MB
    return "", "", None


def _latency(figure: dict[str, Any]) -> str:
    """The warm figure, and the cold one where it was measured (a move is made once: no warm run)."""
    cold = f" (cold {figure['cold_ms']:.0f})" if "cold_ms" in figure else ""
    return f"{figure['ms']:.0f} ms{cold}"


def _judge_ten_times(figure: dict[str, Any]) -> tuple[str, str, bool | None]:
    """At ten times the company the sweeps have 10 s, the company summary 500 ms, ``/overdue`` 100 ms.
    (That they grow linearly, and the team's summary not at all, is read against the smaller runs.)"""
    name = figure["figure"]
    if name.startswith("sweep "):
        rss = f", peak RSS {figure['peak_rss_mb']:.0f} MB" if "peak_rss_mb" in figure else ""
        return (
            f"{figure['seconds']:.2f} s, {figure['pushes']} pushes{rss}",
            f"< {TEN_TIMES_SWEEP_SECONDS:g} s",
            figure["seconds"] < TEN_TIMES_SWEEP_SECONDS,
        )
    if "ms" in figure:
        limit = TEN_TIMES_SUMMARY_MS.get(name)
        value = _latency(figure)
        return (value, f"< {limit:g} ms", figure["ms"] < limit) if limit else (value, "", None)
    if name in ("generate company", "visit months: first build"):
        rows = f", {figure['rows']:,} rows" if "rows" in figure else ""
        return f"{figure['seconds']:.1f} s{rows}", "", None
    return "", "", None
