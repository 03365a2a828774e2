"""Growing a one-click box past the ends of the object that no sweep saw: the occlusion test.

A side seen shorter than the category's default size grows past an end only
when the space beyond that end is hidden from the sensor by something nearer
(the object itself, or another one): there the object may go on. With time
context (:mod:`lidarlabel.edit.fit_context`) every sweep used is a
:class:`Sight` of the object (its viewpoint and blockers moved into the
clicked frame with the object); an end is free when ANY sight saw the space
beyond it empty.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from lidarlabel.core.boxes import normalize_yaw, yaw_difference
from lidarlabel.prelabel.fitting import fit_box

__all__ = ["Sight", "azimuth_step", "fit_with_occlusion", "line_of_sight", "seen_extents"]

AZIMUTH_STEP_RAD = np.deg2rad(0.2)  # a 64-beam spinning LiDAR at 10 Hz, when the points do not tell
RING_TOLERANCE_RAD = np.deg2rad(0.03)  # returns this close in elevation are one laser's (one ring)
OCCLUSION_RAD = np.deg2rad(1.0)  # a nearer point within this elevation angle of a ray blocks it...
OCCLUSION_AZ_RAD = np.deg2rad(0.4)  # ...and within this azimuth (two steps of a 0.2 deg scan)
NEAR_FACE_INSET = 0.3  # m: where beside a seen face its continuation is tested
OCCLUDER_GAP = 0.3  # m: an occluder must be this much nearer than the hidden position
LOS_MARGIN_RAD = np.deg2rad(10.0)  # the prior may reach beyond the azimuths seen
MIN_VIEW_POINTS = 20  # a sweep with fewer object points does not measure a moving object's size
HEADING_AGREE = np.deg2rad(15.0)  # the L-shape heading is kept when this near the direction of motion


class Sight:
    """One sweep's view of the object, in clicked-frame coordinates.

    ``viewpoint`` (3,) the sensor; ``near`` (M, 3) possible blockers around the
    object; ``far()`` -> (M', 3) those farther out, on the line of sight (a
    whole-sweep scan, so it runs only when the growth test asks this sight).
    """

    def __init__(self, viewpoint: np.ndarray, near: np.ndarray,
                 far: Callable[[], np.ndarray] | None = None) -> None:
        self.viewpoint, self.near, self._far = viewpoint, near, far

    def blockers(self) -> np.ndarray:
        """(M, 3) every possible blocker of this sight."""
        return self.near if self._far is None else np.r_[self.near, self._far()]

    def far(self) -> np.ndarray | None:
        """(M', 3) the blockers on the line of sight outside ``near`` (None: none known)."""
        return None if self._far is None else self._far()


def line_of_sight(points_world: np.ndarray, obj_points: np.ndarray, viewpoint: np.ndarray,
                  crop_centre: np.ndarray, radius: float) -> np.ndarray:
    """(M, 3) points of a sweep outside the crop but between the sensor and the object, within its azimuth span.

    ``points_world`` (N, 3+) the whole sweep (float32 is fine), ``obj_points``
    (K, 3) the object, ``viewpoint`` (3,) the sensor, all world frame; the crop is
    the circle of ``radius`` around ``crop_centre`` (its points are the
    surroundings already). Not ground-filtered: the occlusion test compares
    elevation angles, and the road far from the object lies well below the rays that reach it.
    A cheap wedge test on the whole sweep first, the exact one on what passes.
    """
    pts = np.asarray(points_world)[:, :3]
    obj_rel = obj_points[:, :2] - viewpoint[:2]
    r_max = float(np.hypot(obj_rel[:, 0], obj_rel[:, 1]).max())
    centre_az = float(np.arctan2(obj_rel[:, 1].mean(), obj_rel[:, 0].mean()))
    obj_daz = (np.arctan2(obj_rel[:, 1], obj_rel[:, 0]) - centre_az + np.pi) % (2 * np.pi) - np.pi
    half = float(np.abs(obj_daz).max()) + LOS_MARGIN_RAD
    rx = pts[:, 0] - pts.dtype.type(viewpoint[0])
    ry = pts[:, 1] - pts.dtype.type(viewpoint[1])
    if half < np.deg2rad(80.0):
        c, s = np.cos(centre_az), np.sin(centre_az)
        a = rx * c + ry * s
        b = np.abs(ry * c - rx * s)
        idx = np.flatnonzero((a > 0) & (a < r_max) & (b <= a * np.tan(half) + 1e-3))
    else:
        idx = np.arange(len(pts))
    cand = pts[idx].astype(float)
    rel = cand[:, :2] - viewpoint[:2]
    keep = np.hypot(rel[:, 0], rel[:, 1]) < r_max
    keep &= ((cand[:, 0] - crop_centre[0]) ** 2 + (cand[:, 1] - crop_centre[1]) ** 2) >= radius**2
    keep &= np.isfinite(cand).all(axis=1)
    daz = np.abs((np.arctan2(rel[:, 1], rel[:, 0]) - centre_az + np.pi) % (2 * np.pi) - np.pi)
    return cand[keep & (daz < half)]


def azimuth_step(points: np.ndarray, viewpoint: np.ndarray) -> float | None:
    """The sensor's azimuth step (radians) seen in (K, 3) world points of one sweep from ``viewpoint`` (3,).

    Returns of one laser share an elevation angle; the median azimuth difference
    between neighbouring returns of a ring is the step (a missing return makes
    one difference two steps, which the median ignores). Elevation groups wider
    than a ring (lasers mixed, e.g. motion-compensated or multi-origin clouds) are
    left out. None when fewer than
    20 such pairs are found (few points, or points merged from several sweeps
    or motion-compensated out of their rings).
    """
    rel = np.asarray(points, dtype=float)[:, :3] - viewpoint
    rxy = np.hypot(rel[:, 0], rel[:, 1])
    ok = rxy > 1.0
    if ok.sum() < 20:
        return None
    az, el = np.arctan2(rel[ok, 1], rel[ok, 0]), np.arctan2(rel[ok, 2], rxy[ok])
    by_el = np.argsort(el)
    ring = np.r_[0, np.cumsum(np.diff(el[by_el]) > RING_TOLERANCE_RAD)]
    el_sorted, az_sorted = el[by_el], az[by_el]
    # a chain of close elevations spanning more than a few tolerances is several lasers mixed (no clean rings)
    first = np.r_[0, np.flatnonzero(np.diff(ring)) + 1]
    span = np.maximum.reduceat(el_sorted, first) - np.minimum.reduceat(el_sorted, first)
    clean = (span <= 3 * RING_TOLERANCE_RAD)[ring]
    order = np.lexsort((az_sorted, ring))
    d = np.diff(az_sorted[order])
    d = d[(np.diff(ring[order]) == 0) & clean[order][1:] & (d > 1e-5) & (d < np.deg2rad(1.0))]
    return float(np.median(d)) if len(d) >= 20 else None


def fit_with_occlusion(found, viewpoint: np.ndarray, prior: tuple[float, float, float],
                       line_of_sight: np.ndarray | Callable[[], np.ndarray] | None = None, sights: Sequence[Sight] = (),
                       heading: float | None = None, measured: tuple[bool, bool] = (False, False),
                       step: float = AZIMUTH_STEP_RAD) -> np.ndarray:
    """(7,) world box of ``found`` (an :class:`~lidarlabel.edit.fit.ObjectPoints`) grown to ``prior`` where hidden.

    A side seen shorter than the prior (length, width) grows past an end only when
    the space beyond that end is hidden from ``viewpoint`` (3,) by something nearer
    to the sensor, and from every other sight in ``sights``. An end with free, visible space
    beyond it is where the object ends; it only moves out by the expected sampling gap, half
    the sensor's azimuth ``step`` (radians, :func:`azimuth_step`) at the object's range.
    Both ends hidden: grow away from the sensor. ``line_of_sight`` (M, 3), or a function
    giving them when first needed, adds blockers outside ``found.surroundings``. ``heading`` (radians, the direction of motion)
    fixes which axis is the length; without it both are tried and the box nearer the prior wins.
    ``measured`` (length, width): that size of ``prior`` was seen whole in another sweep, so a
    side seen shorter here grows to it even with both ends free (away from the sensor).
    """
    pts = found.points
    raw = _raw_fit(pts, found.ground_z, heading)
    rng = float(np.linalg.norm(raw[:2] - viewpoint[:2]))
    gap = 0.5 * step * rng
    z_levels = found.ground_z + np.array([0.5, 0.8]) * (raw[2] + raw[5] / 2 - found.ground_z)
    far = line_of_sight if line_of_sight is None or callable(line_of_sight) else (lambda: line_of_sight)
    occs = _Sights([Sight(viewpoint, found.surroundings, far), *sights])
    # Seen end-on, the longer seen side may be the width: try both axes as the length and keep
    # the box whose size is nearer the prior (a free end cannot be grown past, a hidden one can).
    best, best_cost = raw, np.inf
    for turn in (0.0,) if heading is not None else (0.0, np.pi / 2):
        box = _grow_box(pts, raw, float(raw[6]) + turn, prior, occs, viewpoint, gap, z_levels, None,
                        measured if turn == 0.0 else (False, False))
        cost = float(np.abs(np.log(box[3:5] / np.asarray(prior[:2]))).sum())
        if cost < best_cost - 1e-9:
            best, best_cost = box, cost
    best[6] = normalize_yaw(best[6])
    return best


def seen_extents(views: Sequence[tuple[np.ndarray, Sight]], heading: float, prior: tuple[float, float, float],
                 ground_z: float, step: float = AZIMUTH_STEP_RAD) -> tuple[float | None, float | None]:
    """(length, width) in metres of a moving object as seen whole in other sweeps (median), None where none did.

    ``views`` are the sweeps' own (K, 3) object points and :class:`Sight`, not
    moved (a moving object's sweeps do not stack exactly); ``heading`` (radians)
    its direction of motion. A side counts when both its ends were free in that
    sweep (the test of :func:`fit_with_occlusion`, with that sweep's viewpoint and
    the sensor's azimuth ``step``).
    """
    seen: tuple[list[float], list[float]] = ([], [])
    for pts, sight in views:
        if len(pts) < MIN_VIEW_POINTS:
            continue
        raw = _raw_fit(pts, ground_z, heading)
        gap = 0.5 * step * float(np.linalg.norm(raw[:2] - sight.viewpoint[:2]))
        z_levels = ground_z + np.array([0.5, 0.8]) * (raw[2] + raw[5] / 2 - ground_z)
        whole: list[bool] = []
        box = _grow_box(pts, raw, float(raw[6]), prior, _Sights([sight]),
                        sight.viewpoint, gap, z_levels, whole)
        for k in range(2):
            if whole[k]:
                seen[k].append(float(box[3 + k]))
    return tuple(float(np.median(v)) if v else None for v in seen)  # type: ignore[return-value]


def _raw_fit(pts: np.ndarray, ground_z: float, heading: float | None) -> np.ndarray:
    """L-shape box; with a known direction of motion, the L-shape axis nearest it (or the motion itself)."""
    if heading is None:
        return fit_box(pts, ground_z=ground_z)
    box = fit_box(pts, ground_z=ground_z, yaw_hint=heading)
    if abs(yaw_difference(float(box[6]), heading)) > HEADING_AGREE:
        box = fit_box(pts, ground_z=ground_z, yaw_hint=heading, axis=heading)
    return box


def _grow_box(pts: np.ndarray, raw: np.ndarray, yaw: float, prior: tuple[float, float, float],
              occs: _Sights, viewpoint: np.ndarray, gap: float, z_levels: np.ndarray,
              seen_whole: list[bool] | None = None, measured: tuple[bool, bool] = (False, False)) -> np.ndarray:
    """``raw`` (7,) regrown at ``yaw`` past hidden ends; ``seen_whole`` gets, per axis, whether both ends were free."""
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.array([[c, s], [-s, c]])  # world xy -> box uv
    # elementwise, not BLAS: a matrix product this size wakes OpenBLAS threads that then spin beside the fit
    dx, dy = pts[:, 0] - raw[0], pts[:, 1] - raw[1]
    uv = np.c_[dx * rot[0, 0] + dy * rot[0, 1], dx * rot[1, 0] + dy * rot[1, 1]]
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    vp_uv = (viewpoint[:2] - raw[:2]) @ rot.T
    for k in range(2):
        short = prior[k] - (hi[k] - lo[k])
        if short <= 0:
            if seen_whole is not None:
                seen_whole.append(False)
            continue
        other = 1 - k
        hidden = []
        for end, sign in ((lo[k], -1.0), (hi[k], 1.0)):
            along = end + sign * short * np.array([0.15, 0.5, 0.9])
            inset = min(NEAR_FACE_INSET, (hi[other] - lo[other]) / 2) * np.array([0.2, 0.6, 1.0])
            hidden.append(all(_hidden_beyond(occ, raw, rot, k, along, inset, lo, hi, z_levels) for occ in occs))
        if measured[k] and not (hidden[0] or hidden[1]):
            hidden = [True, True]  # another sweep saw this side whole and longer: this one missed a part
        if hidden[0] and hidden[1]:
            if abs(vp_uv[k] - lo[k]) <= abs(vp_uv[k] - hi[k]):
                hi[k] += short
            else:
                lo[k] -= short
        elif hidden[1]:
            hi[k] += short
        elif hidden[0]:
            lo[k] -= short
        else:
            grow = min(gap, short / 2)
            lo[k] -= grow
            hi[k] += grow
        if seen_whole is not None:
            seen_whole.append(not (hidden[0] or hidden[1]))
    mid = (lo + hi) / 2
    out = raw.copy()
    out[:2] = raw[:2] + mid @ rot
    out[3:5] = hi - lo
    out[6] = yaw
    return out


def _hidden_beyond(occ: _Occluders, raw: np.ndarray, rot: np.ndarray, k: int, along: np.ndarray, inset: np.ndarray,
                   lo: np.ndarray, hi: np.ndarray, z_levels: np.ndarray) -> bool:
    """Whether the continuation, past one end of axis ``k``, of the face nearer ``occ``'s sensor is hidden."""
    # the object's own body hides the space beyond its far corners, never the prolongation of a face it shows
    other = 1 - k
    vp_uv = (occ.vp[:2] - raw[:2]) @ rot.T
    near_lo = abs(vp_uv[other] - lo[other]) <= abs(vp_uv[other] - hi[other])
    across = lo[other] + inset if near_lo else hi[other] - inset
    grid = np.zeros((9, 2))
    grid[:, k] = np.repeat(along, 3)
    grid[:, other] = np.tile(across, 3)
    return occ.hidden_fraction(raw[:2] + grid @ rot, z_levels) >= 0.5


class _Sights:
    """Each sight's occluders (the clicked frame's first), built the first time a test reaches them."""

    def __init__(self, sights: Sequence[Sight]) -> None:
        self._sights, self._built = list(sights), []

    def __iter__(self) -> Iterator[_Occluders]:
        for i, s in enumerate(self._sights):
            if i == len(self._built):
                self._built.append(_Occluders(s.near, s.viewpoint, s.far))
            yield self._built[i]


class _Occluders:
    """Which positions are hidden from a viewpoint by (M, 3) points nearer to it.

    The blockers on the line of sight beyond the crop (``far()``, a whole-sweep
    scan) are fetched only when the nearby ones (``near``) do not hide enough.
    """

    def __init__(self, near: np.ndarray, viewpoint: np.ndarray,
                 far: Callable[[], np.ndarray | None] | None = None) -> None:
        self.vp = viewpoint
        self._near = _Polar(near, viewpoint)
        self._far_fn, self._far = far, None

    def hidden_fraction(self, xy: np.ndarray, z_levels: np.ndarray) -> float:
        """Fraction of the positions (xy (P, 2) at every height of ``z_levels``) hidden from the viewpoint."""
        hidden = self._near.hidden(xy, z_levels)
        if hidden.mean() >= 0.5 or self._far_fn is None:
            return float(hidden.mean())
        if self._far is None:
            far = self._far_fn()
            self._far = _Polar(np.zeros((0, 3)) if far is None else far, self.vp)
        return float((hidden | self._far.hidden(xy, z_levels)).mean())


class _Polar:
    """(M, 3) blockers in polar form around a viewpoint (3,)."""

    def __init__(self, points: np.ndarray, viewpoint: np.ndarray) -> None:
        rel = np.asarray(points, dtype=float).reshape(-1, 3) - viewpoint
        self.az = np.arctan2(rel[:, 1], rel[:, 0])
        self.r = np.hypot(rel[:, 0], rel[:, 1])
        self.el = np.arctan2(rel[:, 2], self.r)
        self.vp = viewpoint

    def hidden(self, xy: np.ndarray, z_levels: np.ndarray) -> np.ndarray:
        """(L, P) bool: position p (xy (P, 2)) at height ``z_levels[l]`` has a blocker nearer on its ray."""
        rel = xy - self.vp[:2]
        az = np.arctan2(rel[:, 1], rel[:, 0])
        r = np.hypot(rel[:, 0], rel[:, 1])
        mid = np.arctan2(rel[:, 1].mean(), rel[:, 0].mean())
        span = np.abs((az - mid + np.pi) % (2 * np.pi) - np.pi).max() + OCCLUSION_RAD
        sel = (np.abs((self.az - mid + np.pi) % (2 * np.pi) - np.pi) < span) & (self.r < r.max() - OCCLUDER_GAP)
        b_az, b_r, b_el = self.az[sel], self.r[sel], self.el[sel]
        hidden = []
        for z in z_levels:
            el = np.arctan2(z - self.vp[2], r)
            daz = np.abs((b_az[None, :] - az[:, None] + np.pi) % (2 * np.pi) - np.pi)
            near = (b_r[None, :] < r[:, None] - OCCLUDER_GAP) & (daz < OCCLUSION_AZ_RAD)
            near &= np.abs(b_el[None, :] - el[:, None]) < OCCLUSION_RAD
            hidden.append(near.any(axis=1))
        return np.array(hidden)
