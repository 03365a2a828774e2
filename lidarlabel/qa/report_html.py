"""A self-contained HTML report of a label diff: tables and inline SVG plots, no scripts, no CDN."""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from lidarlabel.qa.diff import CHANGE_KINDS, SUMMARY_KEYS, DiffResult

__all__ = ["diff_report_html"]

_KIND_COLORS = {
    "unchanged": "#9e9e9e", "added": "#2e7d32", "removed": "#c62828", "geometry_changed": "#ef6c00",
    "category_changed": "#6a1b9a", "attributes_changed": "#1565c0", "track_id_changed": "#00838f",
    "keyframe_changed": "#827717", "source_changed": "#795548",
}  # fmt: skip
_MAX_ROWS = 2000

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}h2{margin-top:1.5em}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px}svg text{font-size:11px}
"""


def _e(x: Any) -> str:
    return html.escape(str(x))


def _table(header: list[str], rows: list[list[Any]], left: int = 1) -> str:
    th = "".join(f'<th class="{"l" if i < left else ""}">{_e(h)}</th>' for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{_e(v)}</td>' for i, v in enumerate(r))
        + "</tr>" for r in rows
    )  # fmt: skip
    return f"<table><tr>{th}</tr>{body}</table>"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _histogram_svg(values: np.ndarray, bins: int = 20, width: int = 560, height: int = 200) -> str:
    """Bar chart of IoU values in [0, 1] (counts on a linear axis)."""
    counts, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    top = max(int(counts.max()) if len(counts) else 0, 1)
    pad, bw = 40, (width - 50) / bins
    bars = []
    for k, c in enumerate(counts):
        h = (height - pad - 10) * c / top
        x = pad + k * bw
        bars.append(f'<rect x="{x:.1f}" y="{height - pad - h:.1f}" width="{bw - 1:.1f}" height="{h:.1f}" '
                    f'fill="#1565c0"><title>IoU {edges[k]:.2f}-{edges[k + 1]:.2f}: {c}</title></rect>')
    ticks = "".join(
        f'<text x="{pad + t * (width - 50):.0f}" y="{height - pad + 14}" text-anchor="middle">{t:.1f}</text>'
        for t in np.linspace(0, 1, 6)
    )  # fmt: skip
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
            f'<line x1="{pad}" y1="{height - pad}" x2="{width - 10}" y2="{height - pad}" stroke="#444"/>'
            f'<text x="4" y="14">{top}</text>{"".join(bars)}{ticks}'
            f'<text x="{width / 2:.0f}" y="{height - 6}" text-anchor="middle">3D IoU of matched boxes</text></svg>')


def _per_frame_svg(result: DiffResult, width: int = 1100, height: int = 240) -> str:
    """Stacked bars of changes per frame, one colour per change kind."""
    kinds = [k for k in CHANGE_KINDS if any(k in c for c in result.per_frame.values())]
    frames = sorted(result.per_frame)
    if not frames or not kinds:
        return "<p>No changes.</p>"
    f0, f1 = frames[0], frames[-1]
    n = f1 - f0 + 1
    totals = [sum(result.per_frame.get(f, {}).get(k, 0) for k in kinds) for f in range(f0, f1 + 1)]
    top = max(max(totals), 1)
    pad, bw = 40, (width - 50) / n
    parts = []
    for f in range(f0, f1 + 1):
        y = height - pad
        for k in kinds:
            c = result.per_frame.get(f, {}).get(k, 0)
            if not c:
                continue
            h = (height - pad - 10) * c / top
            y -= h
            parts.append(f'<rect x="{pad + (f - f0) * bw:.1f}" y="{y:.1f}" width="{max(bw - 0.5, 0.5):.1f}" '
                         f'height="{h:.1f}" fill="{_KIND_COLORS[k]}"><title>frame {f}: {c} {k}</title></rect>')
    legend = " ".join(f'<span class="sw" style="background:{_KIND_COLORS[k]}"></span>{_e(k)}' for k in kinds)
    return (f'<div>{legend}</div><svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
            f'<line x1="{pad}" y1="{height - pad}" x2="{width - 10}" y2="{height - pad}" stroke="#444"/>'
            f'<text x="4" y="14">{top}</text>{"".join(parts)}'
            f'<text x="{pad}" y="{height - pad + 14}">{f0}</text>'
            f'<text x="{width - 10}" y="{height - pad + 14}" text-anchor="end">{f1}</text>'
            f'<text x="{width / 2:.0f}" y="{height - 6}" text-anchor="middle">changes per frame</text></svg>')


def diff_report_html(result: DiffResult, old_name: str = "old", new_name: str = "new") -> str:
    """The whole report as one HTML string (inline CSS and SVG; opens offline in any browser)."""
    r = result.review.to_dict()
    s = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Label diff {_e(result.scene)}</title>"
         f"<style>{_CSS}</style></head><body>",
         f"<h1>Label diff: scene {_e(result.scene)}</h1>",
         f"<p>old <b>{_e(old_name)}</b> (version {_e(result.old_version)}, {result.num_old_boxes} boxes) &rarr; "
         f"new <b>{_e(new_name)}</b> (version {_e(result.new_version)}, {result.num_new_boxes} boxes). "
         f"Matching by track id, then Hungarian on 3D IoU &ge; {result.iou_threshold}. Tolerances: centre "
         f"{result.tolerances.center_m} m, size {result.tolerances.size_m} m, yaw {result.tolerances.yaw_deg}&deg;.</p>",
         "<h2>Summary (boxes)</h2>",
         _table(["kind", "boxes"], [[k, result.summary[k]] for k in SUMMARY_KEYS]
                + [[k, v] for k, v in result.other_counts.items()]),
         "<h2>Pre-label review</h2>",
         _table(["figure", "value"], [
             ["pre-label boxes in old", r["prelabel_boxes"]],
             ["accepted unchanged", f"{r['accepted_unchanged']} ({_pct(r['share_accepted_unchanged'])})"],
             ["  of which still marked prelabel", r["kept_as_prelabel"]],
             ["corrected", f"{r['corrected']} ({_pct(r['share_corrected'])})"],
             ["deleted", f"{r['deleted']} ({_pct(r['share_deleted'])})"],
             ["boxes added by hand", r["added_by_hand"]],
             ["added boxes by source", ", ".join(f"{k}: {v}" for k, v in r["added_by_source"].items()) or "-"],
         ]),
         "<h2>IoU of matched boxes whose geometry changed</h2>",
         _histogram_svg(result.matched_iou[result.matched_iou < 1.0]),
         f"<p>{int(np.count_nonzero(result.matched_iou >= 1.0))} matched boxes within tolerance "
         f"(IoU 1) are not shown.</p>",
         "<h2>Changes per frame</h2>", _per_frame_svg(result)]  # fmt: skip
    cat_kinds = ["unchanged", *CHANGE_KINDS]
    s += ["<h2>Per category</h2>", _table(
        ["category", *cat_kinds],
        [[c, *(v.get(k, 0) for k in cat_kinds)] for c, v in result.per_category.items()])]
    if result.track_events:
        s += ["<h2>Track identity changes</h2>", _table(
            ["event", "old tracks", "new tracks", "frames"],
            [[e.kind, " ".join(e.old_tracks), " ".join(e.new_tracks),
              f"{e.frames[0]}-{e.frames[-1]} ({len(e.frames)})"] for e in result.track_events], left=3)]
    changed_tracks = sorted(
        ((tid, t) for tid, t in result.per_track.items() if any(t.get(k) for k in CHANGE_KINDS)),
        key=lambda kv: -sum(kv[1].get(k, 0) for k in CHANGE_KINDS))
    s += ["<h2>Per track (changed tracks)</h2>", _table(
        ["track", "category", "new ids", *cat_kinds],
        [[tid, t["category"], " ".join(t["new_tracks"]), *(t.get(k, 0) for k in cat_kinds)]
         for tid, t in changed_tracks[:_MAX_ROWS]], left=3)]
    rows = []
    for c in result.changes[:_MAX_ROWS]:
        d = c.details
        if c.kind == "geometry_changed":
            what = (f"centre {d['center_m']:.3f} m, size {' '.join(f'{v:+.3f}' for v in d['size_delta'])} m, "
                    f"yaw {d['yaw_deg']:+.2f} deg")
        elif "before" in d:
            what = f"{d['before']} -> {d['after']}"
        else:
            what = f"source {d.get('source')}"
        rows.append([c.frame, c.kind, c.old_track or "-", c.new_track or "-", c.category,
                     "-" if c.iou is None else f"{c.iou:.3f}", c.prelabel or "", what])
    more = len(result.changes) - len(rows)
    s += [f"<h2>Changes ({len(result.changes)})</h2>",
          _table(["frame", "kind", "old track", "new track", "category", "IoU", "pre-label", "what"], rows, left=0),
          f"<p>{more} more changes are in the JSON output (--json).</p>" if more > 0 else "",
          "</body></html>"]  # fmt: skip
    return "\n".join(s)
