"""One shape for a moving vehicle from all its frames, in the object's own frame.

Waymo 3D Auto Labeling's dynamic-object branch, reduced to what a partial
view gets wrong: the position along the direction of travel and the length.
A car approached and then passed shows its front, then its flank, then its
rear; no single far sweep shows both ends, but the sequence does. Each
frame's non-ground points are cropped to its refined box (grown along the
heading, where the error is) and taken into the box's frame; per frame the
foremost and rearmost points are kept, and where the sensor lay beyond that
end (or beside the flank at more than 15 degrees of incidence) that end is
taken as seen. One length and one along-track correction of the smoothed
track (a line in time that may bend at knots, each bend paid for by a ridge
term) are fitted to every seen end at once, robustly (an occluded end reads
short, a stray point long), with every frame's points kept inside the box.
The length is measured only when the front and the rear were each seen in a
good share of the frames; otherwise it is at least the class prior (a partial
length above the class minimum is no measurement).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from lidarlabel.core.boxes import points_to_box_frame
from lidarlabel.prelabel.accumulate import crop_tracks

__all__ = ["EndObservation", "basis", "fit_along", "frame_ends", "refit_moving"]

_MIN_INCIDENCE = np.sin(np.deg2rad(15.0))


class EndObservation:
    """Per observed frame of a track, in its box frame (u along the heading, m).

    ``t`` (K,) times (s); ``lo``/``hi`` (K,) rearmost/foremost point; ``rear``/``front``
    (K,) bool: that end was in the sensor's view (so the point is the end, unless occluded).
    """

    def __init__(self, t: np.ndarray, lo: np.ndarray, hi: np.ndarray, rear: np.ndarray, front: np.ndarray):
        self.t, self.lo, self.hi, self.rear, self.front = t, lo, hi, rear, front


def frame_ends(points_local: np.ndarray, sensor_local: np.ndarray, width: float, spacing: float,
               ) -> tuple[float, float, bool, bool] | None:
    """(lo, hi, rear seen, front seen) of one frame's (N, 2) box-frame points seen from ``sensor_local`` (2,).

    An end counts as seen when the sensor lies beyond it along the heading, or
    beside the flank at more than 15 degrees of incidence to that end. None
    with fewer than 3 points.
    """
    if len(points_local) < 3:
        return None
    u = points_local[:, 0]
    lo, hi = float(u.min()), float(u.max())
    su, sv = float(sensor_local[0]), float(sensor_local[1])
    off = abs(sv) - width / 2
    seen = []
    for bound, sign in ((lo, -1.0), (hi, 1.0)):
        faces = sign * (su - bound) > spacing
        along = abs(su - bound)
        flank = off > 0 and off / max(np.hypot(off, along), 1e-9) > _MIN_INCIDENCE
        seen.append(bool(faces or flank))
    return lo, hi, seen[0], seen[1]


def basis(t: np.ndarray, degree: int, knots: np.ndarray) -> np.ndarray:
    """(K, degree + 1 + len(knots)) columns: powers of ``t`` (s), then hinges max(0, t - knot)."""
    cols = [t ** d for d in range(degree + 1)] + [np.maximum(0.0, t - k) for k in knots]
    return np.stack(cols, axis=1)


def fit_along(ends: EndObservation, length: float, length_range: tuple[float, float], prior: float,
              degree: int = 1, tol: float = 0.3, iterations: int = 8, min_share: float = 0.0,
              knots: np.ndarray | None = None, bend: float = 1.0) -> tuple[np.ndarray, float, bool]:
    """Correction coefficients (D,) of :func:`basis` in t - mean t (s), the length (m), and whether it was measured.

    ``ends``: K frames in their box frames. Model: the box spans
    ``delta(t) -/+ L / 2`` with ``delta = basis(t, degree, knots) @ theta``;
    a hinge coefficient costs ``bend`` (ridge); a seen end pulls its side to
    it (Cauchy-weighted, scale ``tol`` m); any point outside the box pushes
    it out (one-sided, weight 10). The length is a free parameter only when
    both the front and the rear were seen, each in at least ``min_share`` of
    the frames (a box turned off the heading in one frame seems to show its
    flank); otherwise it is ``max(length, prior)``.
    """
    t = ends.t - ends.t.mean()
    K = len(t)
    knots = np.zeros(0) if knots is None else np.asarray(knots, dtype=float)
    T = basis(t, degree, knots)  # (K, D)
    D = T.shape[1]
    need = max(1.0, min_share * K)
    free_len = (min(ends.front.sum(), ends.rear.sum()) >= need) and int(ends.front.sum() + ends.rear.sum()) >= 3
    L = float(length) if free_len else max(float(length), prior)
    theta = np.zeros(D)
    for _ in range(iterations):
        delta = T @ theta
        rows, rhs, w = [], [], []
        for k in range(K):
            for bound, sign, seen in ((ends.hi[k], 0.5, ends.front[k]), (ends.lo[k], -0.5, ends.rear[k])):
                edge = delta[k] + sign * L
                r = bound - edge
                outside = r * np.sign(sign) > 0.05
                if seen:
                    wk = 1.0 / (1.0 + (r / tol) ** 2)
                    if outside:
                        wk = max(wk, 1.0)
                elif outside:
                    wk = 10.0
                else:
                    continue
                rows.append(np.concatenate([T[k], [sign] if free_len else []]))
                rhs.append(bound if free_len else bound - sign * L)
                w.append(wk)
        if not rows:
            break
        A = np.array(rows) * np.sqrt(w)[:, None]
        b = np.array(rhs) * np.sqrt(w)
        # a weak pull to no correction keeps an unseen stretch where the smoother put it
        reg = 0.05 * np.sqrt(len(rows))
        ridge = np.full(D, reg)
        ridge[degree + 1:] = bend * np.sqrt(len(rows))  # a bend of the motion must be asked for by many ends
        A = np.vstack([A, np.diag(ridge) @ np.eye(A.shape[1])[: D]])
        b = np.concatenate([b, np.zeros(D)])
        if free_len:
            A = np.vstack([A, np.concatenate([np.zeros(D), [reg]])])
            b = np.concatenate([b, [reg * L]])
        sol = np.linalg.lstsq(A, b, rcond=None)[0]
        theta = sol[:D]
        if free_len:
            L = float(np.clip(sol[D], *length_range))
    return theta, L, free_len


def refit_moving(tracks: list, frame_points: Mapping[int, np.ndarray], sensors: Mapping[str, Mapping[int, np.ndarray]],
                 times_s: np.ndarray, length_range: Mapping[str, tuple[float, float]],
                 priors: Mapping[str, float], spacing_rad: float, along_margin: float = 1.0,
                 margin: float = 0.3, degree: int = 1, min_frames: int = 3, absolute: bool = False,
                 min_share: float = 0.0, pad: float = 0.0, knot_s: float = 0.0, bend: float = 1.0) -> None:
    """Re-place each moving vehicle track's boxes (in place) on one along-track shape fitted to all its frames.

    ``tracks``: RefinedTrack (world boxes (7,) per frame, heading along the
    motion); ``frame_points``: frame -> (M, 3) world non-ground points;
    ``sensors[id][frame]`` (3,) world sensor position of each observed frame;
    ``times_s`` (F,). ``knot_s`` (s) between the knots of the correction (0:
    a polynomial of ``degree``); ``absolute``: fit one motion to the ends on
    the track's path instead of a correction of it (off by default, docs).
    """
    by_frame: dict[int, list] = {}
    for r in tracks:
        for f in sensors[r.id]:
            if f in r.boxes:
                by_frame.setdefault(f, []).append(r)
    local: dict[str, dict[int, tuple]] = {r.id: {} for r in tracks}
    for f, rs in by_frame.items():
        pts = frame_points.get(f)
        if pts is None or len(pts) == 0:
            continue
        grown = np.array([r.boxes[f] for r in rs])
        grown[:, 3] += 2 * along_margin
        for r, c in zip(rs, crop_tracks(pts, grown, margin)):
            b = r.boxes[f]
            uv = points_to_box_frame(c, b)[:, :2]
            su = points_to_box_frame(np.asarray(sensors[r.id][f], dtype=float)[None, :3], b)[0, :2]
            spacing = spacing_rad * float(np.hypot(*su))
            e = frame_ends(uv, su, float(b[4]), spacing)
            if e is not None:  # a sampled end lies short of the true one by up to a point spacing
                local[r.id][f] = (e[0] - pad * spacing, e[1] + pad * spacing, e[2], e[3])
    for r in tracks:
        obs = local[r.id]
        if len(obs) < min_frames:
            continue
        fr = sorted(obs)
        arr = np.array([obs[f] for f in fr], dtype=float)
        # the smoothed centres' path length along the heading (m): ends are fitted on it, so one
        # smooth motion explains every frame (a stretch anchored on a hidden end stands out)
        bf = sorted(r.boxes)
        cen = np.array([r.boxes[f][:2] for f in bf])
        yaws = np.array([r.boxes[f][6] for f in bf])
        head = np.stack([np.cos(yaws), np.sin(yaws)], axis=1)
        step = np.einsum("ij,ij->i", np.diff(cen, axis=0), (head[1:] + head[:-1]) / 2) if len(bf) > 1 else []
        s_box = dict(zip(bf, np.concatenate([[0.0], np.cumsum(step)])))
        sb = np.array([s_box[f] for f in fr])
        tb = times_s[fr]
        base = np.polyfit(tb - tb.mean(), sb, 1) if absolute and len(fr) > 1 else np.zeros(2)
        ref = np.polyval(base, tb - tb.mean()) if absolute else np.zeros(len(fr))
        off = sb - ref if absolute else np.zeros(len(fr))
        ends = EndObservation(tb, arr[:, 0] + off, arr[:, 1] + off, arr[:, 2] > 0, arr[:, 3] > 0)
        if not (ends.front.any() or ends.rear.any()):
            continue
        L0 = float(next(iter(r.boxes.values()))[3])
        tm = ends.t.mean()
        t0, t1 = ends.t.min() - tm, ends.t.max() - tm
        knots = np.arange(t0 + knot_s, t1 - 0.5 * knot_s, knot_s) if knot_s > 0 else np.zeros(0)
        theta, L, _ = fit_along(ends, L0, length_range[r.detection_class], priors[r.detection_class], degree,
                                min_share=min_share, knots=knots, bend=bend)
        dts = times_s[bf] - tm
        deltas = basis(dts, degree, knots) @ theta
        if absolute:
            deltas = deltas + np.polyval(base, dts) - np.array([s_box[f] for f in bf])
        for delta, b in zip(deltas, (r.boxes[f] for f in bf)):
            b[0] += delta * np.cos(b[6])
            b[1] += delta * np.sin(b[6])
            b[3] = L
