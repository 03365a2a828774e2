"""Box matching between two label versions: by track id first, then Hungarian on IoU per frame.

Pure numpy/scipy over flat arrays; :mod:`lidarlabel.qa.diff` turns the matches into changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from lidarlabel.core.boxes import bev_iou_pairs, iou3d_pairs
from lidarlabel.core.labels import Box, LabelDocument

__all__ = ["FlatBoxes", "Matching", "flatten", "match_boxes"]


@dataclass
class FlatBoxes:
    """Every box of a document as flat arrays; row ``i`` is box ``boxes[i]`` of track ``tracks[i]``.

    ``geom`` is (N, 7) ``[x, y, z, l, w, h, yaw]`` in the world frame; ``frame`` (N,) int.
    """

    tracks: list[str]
    frame: np.ndarray
    geom: np.ndarray
    boxes: list[Box]

    def __len__(self) -> int:
        return len(self.tracks)


def flatten(doc: LabelDocument) -> FlatBoxes:
    """All boxes of ``doc`` as :class:`FlatBoxes` (track order, then frame order)."""
    tracks: list[str] = []
    boxes: list[Box] = []
    rows: list[tuple[float, ...]] = []
    for tid, t in doc.tracks.items():
        for f in sorted(t.boxes):
            b = t.boxes[f]
            tracks.append(tid)
            boxes.append(b)
            rows.append((*b.center, *b.size, b.yaw))
    geom = np.array(rows, dtype=float).reshape(-1, 7)
    frame = np.fromiter((b.frame for b in boxes), dtype=np.int64, count=len(boxes))
    return FlatBoxes(tracks, frame, geom, boxes)


@dataclass
class Matching:
    """Index pairs into the old and new :class:`FlatBoxes`.

    ``old_idx[k]`` matches ``new_idx[k]``; ``by_id[k]`` says whether the pair
    shares its track id (else it was found by IoU, ``iou[k]`` >= threshold).
    ``removed`` and ``added`` are the unmatched old and new rows.
    """

    old_idx: np.ndarray
    new_idx: np.ndarray
    by_id: np.ndarray
    removed: np.ndarray
    added: np.ndarray
    hungarian_iou: np.ndarray  # IoU of the IoU-matched pairs (by_id False), NaN for id pairs


def match_boxes(
    old: FlatBoxes, new: FlatBoxes, iou_threshold: float = 0.5, iou_kind: str = "3d",
    use_ids: bool = True,
) -> Matching:
    """Match boxes frame by frame: same track id and frame first, then IoU >= ``iou_threshold``.

    With ``use_ids=False`` the id stage is skipped (for documents whose ids are
    unrelated, such as two pre-label runs).

    The IoU stage solves one assignment (Hungarian, maximising total IoU) per
    frame over the boxes the id stage left, so a box whose track id changed
    (split, merge, relabel) is still found.
    """
    if iou_kind not in ("3d", "bev"):
        raise ValueError(f"iou_kind must be '3d' or 'bev', got {iou_kind!r}")
    iou_fn = iou3d_pairs if iou_kind == "3d" else bev_iou_pairs
    old_key = (
        {(t, int(f)): i for i, (t, f) in enumerate(zip(old.tracks, old.frame.tolist()))} if use_ids else {}
    )
    pairs_o: list[int] = []
    pairs_n: list[int] = []
    new_left: list[int] = []
    for j, (t, f) in enumerate(zip(new.tracks, new.frame.tolist())):
        i = old_key.get((t, f))
        if i is None:
            new_left.append(j)
        else:
            pairs_o.append(i)
            pairs_n.append(j)
    old_used = np.zeros(len(old), dtype=bool)
    old_used[pairs_o] = True
    old_left = np.nonzero(~old_used)[0]
    new_left_a = np.asarray(new_left, dtype=np.int64)

    extra_o: list[int] = []
    extra_n: list[int] = []
    extra_iou: list[float] = []
    if len(old_left) and len(new_left_a):
        # Every same-frame candidate pair whose circumscribed circles touch, IoU in one call.
        fo, fn = old.frame[old_left], new.frame[new_left_a]
        po, pn, groups = [], [], []
        for f in np.intersect1d(fo, fn):
            oi, ni = old_left[fo == f], new_left_a[fn == f]
            po.append(np.repeat(oi, len(ni)))
            pn.append(np.tile(ni, len(oi)))
            groups.append((oi, ni))
        if po:
            ci, cj = np.concatenate(po), np.concatenate(pn)
            ga, gb = old.geom[ci], new.geom[cj]
            reach = 0.5 * (np.hypot(ga[:, 3], ga[:, 4]) + np.hypot(gb[:, 3], gb[:, 4]))
            near = np.hypot(ga[:, 0] - gb[:, 0], ga[:, 1] - gb[:, 1]) <= reach
            vals = np.zeros(len(ci))
            if near.any():
                vals[near] = iou_fn(ga[near], gb[near])
            start = 0
            for oi, ni in groups:
                size = len(oi) * len(ni)
                ious = vals[start:start + size].reshape(len(oi), len(ni))
                start += size
                if not (ious >= iou_threshold).any():
                    continue
                rows, cols = linear_sum_assignment(ious, maximize=True)
                ok = ious[rows, cols] >= iou_threshold
                extra_o.extend(oi[rows[ok]].tolist())
                extra_n.extend(ni[cols[ok]].tolist())
                extra_iou.extend(ious[rows[ok], cols[ok]].tolist())

    o = np.asarray(pairs_o + extra_o, dtype=np.int64)
    n = np.asarray(pairs_n + extra_n, dtype=np.int64)
    by_id = np.r_[np.ones(len(pairs_o), bool), np.zeros(len(extra_o), bool)]
    h_iou = np.r_[np.full(len(pairs_o), np.nan), np.asarray(extra_iou, dtype=float)]
    used_o = np.zeros(len(old), dtype=bool)
    used_o[o] = True
    used_n = np.zeros(len(new), dtype=bool)
    used_n[n] = True
    return Matching(o, n, by_id, np.nonzero(~used_o)[0], np.nonzero(~used_n)[0], h_iou)
