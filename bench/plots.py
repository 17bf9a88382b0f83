# SPDX-License-Identifier: MIT
"""The charts of --plot (bench/results.py), drawn from the rows a bench
prints and writes with --json. Each function takes pyplot as an argument
(results.pyplot() imports it lazily) so this file imports no matplotlib
itself.

migration(): per scenario, the MiB each round sent and the MiB it set out
with (what was dirty at its start), ours beside QEMU's, the round sent
while the guest was paused marked with the downtime. Ours has its rounds
from the VMM (`round_history` of GET /api/v1/migrate); QEMU reports no
rounds, so its are rebuilt from the bench's query-migrate polls (every
200 ms, as `vmm ctl migrate` polls ours): rounds shorter than a poll are
merged into the next.

balloon(): the balloon's size over time while it inflates and deflates,
one line per VMM and guest state, from the bench's own polls.
"""
MIB = 1 << 20


def qemu_rounds(samples, final):
    """Rounds from query-migrate polls. samples: dicts with "syncs"
    (dirty-sync-count), "transferred" and "remaining" (bytes), in poll order;
    final: the same for the completed migration. Round n is what was sent
    while the sync count was n; what was dirty at its start is the first
    "remaining" seen in it. The last round is the one sent while paused."""
    rounds = []
    for s in list(samples) + [final]:
        if s["syncs"] <= 0:
            continue
        if rounds and rounds[-1]["round"] == s["syncs"]:
            rounds[-1]["end"] = s["transferred"]
            continue
        start = rounds[-1]["end"] if rounds else 0
        rounds.append({"round": s["syncs"], "start": start, "end": s["transferred"], "dirty_bytes": s["remaining"]})
    out = []
    for i, r in enumerate(rounds):
        out.append({"round": r["round"], "dirty_bytes": r["dirty_bytes"], "bytes_sent": max(0, r["end"] - r["start"]),
                    "paused": i == len(rounds) - 1})
    return out


def _round_axes(ax, row, title):
    history = row.get("round_history") or []
    if not history:
        ax.text(0.5, 0.5, "no rounds reported", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title)
        return
    xs = list(range(1, len(history) + 1))
    sent = [h["bytes_sent"] / MIB for h in history]
    dirty = [h["dirty_bytes"] / MIB for h in history]
    colours = ["tab:red" if h.get("paused") else "tab:blue" for h in history]
    ax.bar(xs, sent, color=colours, label="MiB sent in the round (red: guest paused)")
    ax.plot(xs, dirty, "o-", color="tab:orange", label="MiB dirty at the round's start")
    paused = [x for x, h in zip(xs, history) if h.get("paused")]
    if paused:
        x = paused[-1]
        ax.annotate(f"downtime {row.get('downtime_ms', 0):.1f} ms", xy=(x, sent[x - 1]),
                    xytext=(0, 12), textcoords="offset points", ha="center", color="tab:red")
    ax.set_ylim(0, max(sent + dirty + [1e-3]) * 1.2)  # room for the downtime's label above the bars
    ax.set_xticks(xs)
    ax.set_xlabel("round")
    ax.set_ylabel("MiB")
    ax.set_title(title)


def migration(plt, rows, path):
    scenarios = list(dict.fromkeys(r["scenario"] for r in rows))
    labels = list(dict.fromkeys(r["vmm"] for r in rows))
    if not rows:
        scenarios, labels = ["(no runs)"], ["(no runs)"]
    # At least 8 inches wide: the legend below the panels needs it.
    fig, axes = plt.subplots(len(scenarios), len(labels), figsize=(max(8, 5 * len(labels)), 3.6 * len(scenarios)),
                             squeeze=False)
    by_key = {(r["scenario"], r["vmm"]): r for r in rows}
    for i, scenario in enumerate(scenarios):
        for j, label in enumerate(labels):
            ax = axes[i][j]
            row = by_key.get((scenario, label))
            if row is None:
                ax.set_axis_off()
                ax.set_title(f"{label} {scenario}: not run")
                continue
            total = row.get("total_ms", 0)
            _round_axes(ax, row, f"{label} {scenario}: {row.get('sent_mib', 0):.0f} MiB in {total:.0f} ms")
    handles, names = [], []
    for ax in axes.flat:
        for h, n in zip(*ax.get_legend_handles_labels()):
            if n not in names:
                handles.append(h)
                names.append(n)
    if handles:
        fig.legend(handles, names, loc="lower center", ncol=2)
    fig.suptitle("bench/migrate: bytes per round, ours beside QEMU's")
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def balloon(plt, rows, path):
    steps = list(dict.fromkeys(r["step"] for r in rows)) or ["(no runs)"]
    fig, axes = plt.subplots(1, len(steps), figsize=(6 * len(steps), 4), squeeze=False)
    for ax, step in zip(axes[0], steps):
        for r in (r for r in rows if r["step"] == step):
            points = r.get("progress") or []
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], ".-",
                        label=f"{r['vmm']} {r['state']} ({r['wall_s']:.2f} s)")
        ax.set_title(f"{step}")
        ax.set_xlabel("seconds since the request")
        ax.set_ylabel("balloon size, MiB")
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    fig.suptitle("bench/balloon: the balloon's size while it moves")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
