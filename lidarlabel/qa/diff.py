"""The QA diff of two label versions: every box-level change, with summaries a labeling lead reads.

:func:`diff_documents` compares an ``old`` and a ``new`` :class:`LabelDocument`
of one scene and returns a :class:`DiffResult`. Each :class:`BoxChange` carries
its kind, the old and new track ids, the frame, the category and the (7,)
before/after box arrays in the world frame, so the app can colour boxes and
list the changes. Kinds, tolerances and the review figures are documented in
docs/qa.md.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lidarlabel.core.boxes import iou3d_pairs, yaw_difference
from lidarlabel.core.labels import LabelDocument
from lidarlabel.qa.diff_match import flatten, match_boxes

__all__ = [
    "CHANGE_KINDS",
    "SUMMARY_KEYS",
    "BoxChange",
    "DiffResult",
    "PrelabelReview",
    "Tolerances",
    "TrackEvent",
    "diff_documents",
    "fail_kinds",
    "has_failures",
]

#: Every change kind, in display order. The first six are box-level annotation changes.
CHANGE_KINDS = (
    "added", "removed", "geometry_changed", "category_changed", "attributes_changed",
    "track_id_changed", "keyframe_changed", "source_changed",
)  # fmt: skip
#: Keys of ``summary`` in the JSON output (box-level counts; DESIGN contract of ``lidarlabel diff``).
SUMMARY_KEYS = (
    "unchanged", "added", "removed", "geometry_changed", "category_changed",
    "attributes_changed", "track_id_changed",
)  # fmt: skip
_ANNOTATION_KINDS = ("geometry_changed", "category_changed", "attributes_changed", "track_id_changed")


@dataclass(frozen=True)
class Tolerances:
    """How far a box may move before it counts as ``geometry_changed``.

    ``center_m``: distance between centres (m); ``size_m``: largest change of
    length, width or height (m); ``yaw_deg``: wrapped heading change (degrees).
    """

    center_m: float = 0.01
    size_m: float = 0.01
    yaw_deg: float = 0.2


@dataclass(frozen=True)
class BoxChange:
    """One change of one box. ``before``/``after`` are (7,) world-frame boxes or None.

    ``old_track``/``new_track`` are the ids on each side (one is None for
    added/removed); ``category`` is the new category (the old one for
    removed boxes); ``details`` holds the kind's figures (deltas, attribute
    values, split/merge/relabel); ``prelabel`` is "accepted", "corrected" or
    "deleted" when the old box was a pre-label, else None.
    """

    kind: str
    frame: int
    old_track: str | None
    new_track: str | None
    category: str
    before: np.ndarray | None
    after: np.ndarray | None
    iou: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    prelabel: str | None = None

    @property
    def track(self) -> str:
        """The id to show: the new id, or the old one for removed boxes."""
        return self.new_track if self.new_track is not None else str(self.old_track)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (arrays as lists)."""
        return {
            "kind": self.kind, "frame": self.frame, "old_track": self.old_track,
            "new_track": self.new_track, "category": self.category,
            "before": None if self.before is None else [float(v) for v in self.before],
            "after": None if self.after is None else [float(v) for v in self.after],
            "iou": self.iou, "details": self.details, "prelabel": self.prelabel,
        }  # fmt: skip


@dataclass(frozen=True)
class TrackEvent:
    """A change of track identity: ``split`` (one old track into several), ``merge``
    (several old tracks into one) or ``relabel`` (one old id became another)."""

    kind: str
    old_tracks: tuple[str, ...]
    new_tracks: tuple[str, ...]
    frames: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"kind": self.kind, "old_tracks": list(self.old_tracks),
                "new_tracks": list(self.new_tracks), "frames": list(self.frames)}  # fmt: skip


@dataclass(frozen=True)
class PrelabelReview:
    """What review did to the old version's pre-label boxes, and what was added by hand.

    ``accepted`` = matched with no geometry/category/attribute change (of which
    ``kept_as_prelabel`` still have source "prelabel"); ``corrected`` = matched
    but changed; ``deleted`` = no match. ``added_by_hand`` = added boxes whose
    source is "human"; ``added_by_source`` counts all added boxes by source.
    """

    total: int
    accepted: int
    kept_as_prelabel: int
    corrected: int
    deleted: int
    added_by_hand: int
    added_by_source: dict[str, int]

    def share(self, n: int) -> float | None:
        """``n`` as a fraction of the pre-label boxes (None when there were none)."""
        return None if self.total == 0 else n / self.total

    def to_dict(self) -> dict[str, Any]:
        """JSON form, with shares of the pre-label total."""
        return {
            "prelabel_boxes": self.total, "accepted_unchanged": self.accepted,
            "kept_as_prelabel": self.kept_as_prelabel, "corrected": self.corrected,
            "deleted": self.deleted, "share_accepted_unchanged": self.share(self.accepted),
            "share_corrected": self.share(self.corrected), "share_deleted": self.share(self.deleted),
            "added_by_hand": self.added_by_hand, "added_by_source": dict(self.added_by_source),
        }  # fmt: skip


@dataclass
class DiffResult:
    """Everything :func:`diff_documents` found. ``summary`` has exactly :data:`SUMMARY_KEYS`."""

    scene: str
    old_version: str
    new_version: str
    iou_threshold: float
    tolerances: Tolerances
    num_old_boxes: int
    num_new_boxes: int
    summary: dict[str, int]
    other_counts: dict[str, int]
    changes: list[BoxChange]
    track_events: list[TrackEvent]
    per_frame: dict[int, dict[str, int]]
    per_track: dict[str, dict[str, Any]]
    per_category: dict[str, dict[str, int]]
    review: PrelabelReview
    matched_iou: np.ndarray  # (K,) IoU of every matched pair (1.0 where geometry is within tolerance)

    @property
    def is_empty(self) -> bool:
        """True when the two versions hold the same annotations and provenance."""
        return not self.changes

    def count(self, kind: str) -> int:
        """Number of changes of ``kind``."""
        return sum(1 for c in self.changes if c.kind == kind)

    def changes_in_frame(self, frame: int) -> list[BoxChange]:
        """The changes in one frame (for colouring that frame's boxes)."""
        return [c for c in self.changes if c.frame == frame]

    def to_dict(self, include_changes: bool = True) -> dict[str, Any]:
        """JSON form: ``summary`` (box counts), ``review``, per-frame/track/category, ``changes``."""
        iou = self.matched_iou
        d: dict[str, Any] = {
            "scene": self.scene, "old_version": self.old_version, "new_version": self.new_version,
            "iou_threshold": self.iou_threshold,
            "tolerances": {"center_m": self.tolerances.center_m, "size_m": self.tolerances.size_m,
                           "yaw_deg": self.tolerances.yaw_deg},
            "old_boxes": self.num_old_boxes, "new_boxes": self.num_new_boxes,
            "summary": dict(self.summary), "other_changes": dict(self.other_counts),
            "review": self.review.to_dict(),
            "track_events": [e.to_dict() for e in self.track_events],
            "matched_iou": {"count": int(len(iou)),
                            "mean": float(iou.mean()) if len(iou) else None,
                            "min": float(iou.min()) if len(iou) else None},
            "per_frame": {str(f): c for f, c in sorted(self.per_frame.items())},
            "per_track": self.per_track, "per_category": self.per_category,
        }  # fmt: skip
        if include_changes:
            d["changes"] = [c.to_dict() for c in self.changes]
        return d


def _merged_attrs(track_attrs: dict[str, Any], box_attrs: dict[str, Any]) -> dict[str, Any]:
    if not track_attrs:
        return box_attrs
    return {**track_attrs, **box_attrs}


def diff_documents(
    old: LabelDocument, new: LabelDocument, iou_threshold: float = 0.5,
    tolerances: Tolerances | None = None, iou_kind: str = "3d", use_ids: bool = True,
) -> DiffResult:
    """Compare two versions of one scene's labels box by box (see the module docstring).

    Boxes are matched per frame by track id, then by Hungarian assignment on
    ``iou_kind`` ("3d" or "bev") IoU >= ``iou_threshold``; ``use_ids=False``
    matches by IoU only.
    """
    tol = tolerances or Tolerances()
    fo, fn = flatten(old), flatten(new)
    m = match_boxes(fo, fn, iou_threshold, iou_kind, use_ids)
    a, b = fo.geom[m.old_idx], fn.geom[m.new_idx]
    d_center = np.linalg.norm(b[:, :3] - a[:, :3], axis=1)
    d_size = np.abs(b[:, 3:6] - a[:, 3:6]).max(axis=1) if len(a) else np.zeros(0)
    yaw_deg = np.degrees(yaw_difference(b[:, 6], a[:, 6])) if len(a) else np.zeros(0)
    geo = (d_center > tol.center_m) | (d_size > tol.size_m) | (np.abs(yaw_deg) > tol.yaw_deg)
    a.flags.writeable = b.flags.writeable = False  # change records hold row views of these
    iou = np.ones(len(a))
    if geo.any():
        iou[geo] = iou3d_pairs(a[geo], b[geo])

    # Which old ids went to which new ids: tells a split from a merge from a relabel.
    new_of: dict[str, set[str]] = defaultdict(set)
    old_of: dict[str, set[str]] = defaultdict(set)
    for i, j in zip(m.old_idx.tolist(), m.new_idx.tolist()):
        new_of[fo.tracks[i]].add(fn.tracks[j])
        old_of[fn.tracks[j]].add(fo.tracks[i])

    changes: list[BoxChange] = []
    summary = dict.fromkeys(SUMMARY_KEYS, 0)
    other = {"keyframe_changed": 0, "source_changed": 0}
    # (kind, frame, category, track key) of every counted box: aggregated once at the end
    tally: list[tuple[str, int, str, str]] = []
    track_cat: dict[str, str] = {}
    new_ids: dict[str, set[str]] = defaultdict(set)
    events: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    accepted = kept = corrected = deleted = 0

    for k, (i, j) in enumerate(zip(m.old_idx.tolist(), m.new_idx.tolist())):
        ob, nb = fo.boxes[i], fn.boxes[j]
        ot, nt = old.tracks[fo.tracks[i]], new.tracks[fn.tracks[j]]
        frame = nb.frame
        key = ot.id
        track_cat[key] = ot.category
        new_ids[key].add(nt.id)
        if (not geo[k] and ot.id == nt.id and ob.keyframe == nb.keyframe
                and ob.source == nb.source and ot.category == nt.category
                and ob.attributes == nb.attributes and ot.attributes == nt.attributes):  # fmt: skip
            summary["unchanged"] += 1  # the common case, kept cheap
            tally.append(("unchanged", frame, nt.category, key))
            if ob.source == "prelabel":
                accepted += 1
                kept += 1
            continue
        kinds: list[tuple[str, dict[str, Any]]] = []
        if geo[k]:
            kinds.append(("geometry_changed", {
                "center_m": float(d_center[k]),
                "center_delta": [float(v) for v in b[k, :3] - a[k, :3]],
                "size_delta": [float(v) for v in b[k, 3:6] - a[k, 3:6]],
                "yaw_deg": float(yaw_deg[k]),
            }))  # fmt: skip
        if ot.category != nt.category:
            kinds.append(("category_changed", {"before": ot.category, "after": nt.category}))
        oa = _merged_attrs(ot.attributes, ob.attributes)
        na = _merged_attrs(nt.attributes, nb.attributes)
        if oa != na:
            kinds.append(("attributes_changed", {"before": oa, "after": na}))
        if ot.id != nt.id:
            if len(old_of[nt.id]) > 1:
                sub = "merge"
            elif len(new_of[ot.id]) > 1:
                sub = "split"
            else:
                sub = "relabel"
            kinds.append(("track_id_changed", {"event": sub, "before": ot.id, "after": nt.id}))
            events[(sub, ot.id, nt.id)].append(frame)
        n_annot = len(kinds)
        if ob.keyframe != nb.keyframe:
            kinds.append(("keyframe_changed", {"before": ob.keyframe, "after": nb.keyframe}))
        if ob.source != nb.source:
            kinds.append(("source_changed", {"before": ob.source, "after": nb.source}))
        review = None
        if ob.source == "prelabel":
            if n_annot and any(kd != "track_id_changed" for kd, _ in kinds[:n_annot]):
                review, corrected = "corrected", corrected + 1
            else:
                review, accepted = "accepted", accepted + 1
                kept += nb.source == "prelabel"
        if n_annot == 0:
            summary["unchanged"] += 1
            tally.append(("unchanged", frame, nt.category, key))
        for kind, det in kinds:
            if kind in summary:
                summary[kind] += 1
            else:
                other[kind] += 1
            tally.append((kind, frame, nt.category, key))
            changes.append(BoxChange(kind, frame, ot.id, nt.id, nt.category, a[k], b[k],
                                     float(iou[k]), det, review))  # fmt: skip

    for i in m.removed.tolist():
        ob = fo.boxes[i]
        ot = old.tracks[fo.tracks[i]]
        review = None
        if ob.source == "prelabel":
            review, deleted = "deleted", deleted + 1
        summary["removed"] += 1
        track_cat.setdefault(ot.id, ot.category)
        tally.append(("removed", ob.frame, ot.category, ot.id))
        changes.append(BoxChange("removed", ob.frame, ot.id, None, ot.category, fo.geom[i].copy(), None,
                                 None, {"source": ob.source}, review))  # fmt: skip
    added_by_source: Counter = Counter()
    for j in m.added.tolist():
        nb = fn.boxes[j]
        nt = new.tracks[fn.tracks[j]]
        added_by_source[nb.source] += 1
        summary["added"] += 1
        track_cat.setdefault(nt.id, nt.category)
        tally.append(("added", nb.frame, nt.category, nt.id))
        changes.append(BoxChange("added", nb.frame, None, nt.id, nt.category, None, fn.geom[j].copy(),
                                 None, {"source": nb.source}))  # fmt: skip

    rank = {k: r for r, k in enumerate(CHANGE_KINDS)}
    changes.sort(key=lambda c: (c.frame, rank[c.kind], c.track))
    track_events = _group_events(events, new_of, old_of)
    per_frame, per_cat, per_track = _aggregate(tally, track_cat, new_ids)
    prelabel_total = int(sum(1 for bx in fo.boxes if bx.source == "prelabel"))
    review = PrelabelReview(prelabel_total, accepted, kept, corrected, deleted,
                            added_by_source.get("human", 0), dict(added_by_source))  # fmt: skip
    return DiffResult(
        scene=new.scene, old_version=old.version.id, new_version=new.version.id,
        iou_threshold=iou_threshold, tolerances=tol, num_old_boxes=len(fo), num_new_boxes=len(fn),
        summary=summary, other_counts=other, changes=changes, track_events=track_events,
        per_frame=per_frame, per_track=per_track, per_category=per_cat,
        review=review, matched_iou=iou,
    )  # fmt: skip


def _aggregate(
    tally: list[tuple[str, int, str, str]], track_cat: dict[str, str], new_ids: dict[str, set[str]]
) -> tuple[dict[int, dict[str, int]], dict[str, dict[str, int]], dict[str, dict[str, Any]]]:
    """Counts per frame, per category and per track from (kind, frame, category, track) rows."""
    per_frame: dict[int, dict[str, int]] = defaultdict(dict)
    per_cat: dict[str, dict[str, int]] = defaultdict(dict)
    per_track: dict[str, dict[str, Any]] = {
        key: {"category": cat, "new_tracks": sorted(new_ids.get(key, ()))} for key, cat in track_cat.items()
    }
    for (kind, frame), n in Counter((r[0], r[1]) for r in tally).items():
        per_frame[frame][kind] = n
    for (kind, cat), n in Counter((r[0], r[2]) for r in tally).items():
        per_cat[cat][kind] = n
    for (kind, key), n in Counter((r[0], r[3]) for r in tally).items():
        per_track[key][kind] = n
    return dict(sorted(per_frame.items())), dict(sorted(per_cat.items())), per_track


def _group_events(
    events: dict[tuple[str, str, str], list[int]],
    new_of: dict[str, set[str]], old_of: dict[str, set[str]],
) -> list[TrackEvent]:
    """Fold per-box id changes into one event per split, merge or relabel."""
    grouped: dict[tuple[str, tuple[str, ...], tuple[str, ...]], set[int]] = defaultdict(set)
    for (sub, o, n), frames in events.items():
        if sub == "split":
            key = (sub, (o,), tuple(sorted(new_of[o])))
        elif sub == "merge":
            key = (sub, tuple(sorted(old_of[n])), (n,))
        else:
            key = (sub, (o,), (n,))
        grouped[key].update(frames)
    out = [TrackEvent(k, olds, news, tuple(sorted(fr))) for (k, olds, news), fr in grouped.items()]
    out.sort(key=lambda e: (e.frames[0] if e.frames else -1, e.kind, e.old_tracks))
    return out


def fail_kinds(text: str) -> tuple[str, ...]:
    """Parse a ``--fail-on`` comma list into change kinds (ValueError naming unknown ones)."""
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    bad = [k for k in kinds if k not in CHANGE_KINDS and k != "any"]
    if bad or not kinds:
        raise ValueError(
            f"unknown change kind(s) {bad or [text]}; expected some of {', '.join(CHANGE_KINDS)} or any"
        )
    return kinds


def has_failures(result: DiffResult, kinds: tuple[str, ...]) -> list[str]:
    """The kinds among ``kinds`` that occur in ``result`` ("any" matches every change)."""
    present = {c.kind for c in result.changes}
    if "any" in kinds:
        return sorted(present)
    return [k for k in kinds if k in present]

