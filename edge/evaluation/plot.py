"""The evaluation plot: measured vs true body temperature per person (PNG)."""

from __future__ import annotations

from pathlib import Path

from edge.evaluation.evaluate import EvalReport


def plot_report(report: EvalReport, path: Path, threshold_c: float, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # a gate box has no screen
    import matplotlib.pyplot as plt

    pts = [
        (p.true_c, p.measured_c, p.events[0].type)
        for p in report.people
        if p.true_c is not None and p.measured_c is not None
    ]
    fig, ax = plt.subplots(figsize=(5.5, 5.0), dpi=120)
    lo, hi = 35.5, 39.5
    ax.plot([lo, hi], [lo, hi], color="0.6", lw=1, label="measured = true")
    ax.fill_between(
        [lo, hi], [lo - 0.3, hi - 0.3], [lo + 0.3, hi + 0.3], color="0.9", label="±0.3 °C"
    )
    ax.axhline(threshold_c, color="tab:red", lw=0.8, ls="--", label=f"threshold {threshold_c} °C")
    ax.axvline(threshold_c, color="tab:red", lw=0.8, ls=":")
    for kind, colour in (("screening", "tab:blue"), ("fever", "tab:red")):
        xs = [t for t, _, k in pts if k == kind]
        ys = [m for _, m, k in pts if k == kind]
        ax.scatter(xs, ys, s=22, color=colour, label=f"{kind} ({len(xs)})", zorder=3)
    ax.set(
        xlim=(lo, hi),
        ylim=(lo, hi),
        xlabel="true body temperature (°C)",
        ylabel="measured body temperature (°C)",
        title=title,
    )
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
