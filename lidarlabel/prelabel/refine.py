"""Offline refinement of whole tracks (the batch sees the sequence, as Waymo's 3D Auto Labeling does).

Per track: one category and one size from its best-observed frames; the
heading of a moving object from its smoothed motion, of a static one from the
point-weighted mean of its fitted headings; every frame's box re-placed so its
*visible* sides stay where the points are (a partial view is extended away
from the sensor); centres smoothed forward and backward (Rauch-Tung-Striebel on
a constant-velocity model); short gaps bridged; tracks too short dropped. A
parked car gets one box, the same in every frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lidarlabel.core.boxes import bev_corners, normalize_yaw
from lidarlabel.prelabel.classify import (
    CLASS_RANGES,
    classify_extents,
    long_vehicle_category,
    size_prior,
    two_wheeler_category,
)
from lidarlabel.prelabel.smoothing import rts_smooth
from lidarlabel.prelabel.still_points import still_votes
from lidarlabel.prelabel.tracker import ACCEL, Observation, TrackRecord

__all__ = ["RefineOptions", "RefinedTrack", "anchor_centre", "refine_track", "rts_smooth"]


@dataclass
class RefineOptions:
    """Rules of the offline pass."""

    min_observations: int = 3
    max_gap: int = 5  # frames bridged by interpolation inside a track
    moving_speed: float = 1.0  # m/s: faster vehicles take their heading from motion
    moving_distance: float = 2.0  # m spanned by the smoothed path of a moving vehicle
    static_tolerance: float = 0.6  # m: anchored centres of a static object stay this close (80 %)
    vru_scale: float = 0.4  # pedestrians and cyclists: both thresholds times this (small boxes jitter less)
    measurement_sigma: float = 0.25
    angular_spacing: float = 0.006  # rad between neighbouring returns of the sensor
    reclassify: bool = True  # re-derive category and size from shape (geometric detector)
    accumulate: bool = True  # static vehicles: one box fitted to all frames' cropped points (offline.py)
    unseen_weight: float = 0.5  # centre noise (m) per metre of a frame's unseen outline (0: all frames alike)
    static_drift: bool = True  # a vehicle whose anchored centres drift less than moving_distance is static
    static_max_gap: int = 1000  # frames bridged inside a static track (a parked car does not leave)
    accumulate_margin: float = 0.5  # m: each frame's points within a static track's box grown by this
    accumulate_classes: tuple[str, ...] = ("car",)  # trucks and buses measured worse (docs)
    accumulate_swap: float = 0.0  # m: an outline this much wider than the class allows swaps axes (< 0: off)
    accumulate_end_on: bool = True  # ... and a fully seen outline too short for a length turns it too
    accumulate_recrop: bool = True  # ... then crops every frame again with the turned box and refits
    accumulate_width: bool = True  # ... give its width too (else only length, heading and placement)
    accumulate_movers: bool = True  # ... leaving out points inside a moving track's box of that frame
    # a track whose best frames' highest returns mostly came from the sensor's highest laser (a truck
    # near a 64-beam sensor, whose top laser looks 2 degrees up) is at least the class prior tall
    unseen_top: bool = True
    # a truck-class track whose length is nearer the bus default (11.0 m) than the truck's (6.93 m) is a bus
    bus_by_length: bool = True
    near_fraction: float = 1.0  # a static track's bottom: the median ground of this share of its nearest frames
    bottom_window: int = 7  # frames in the running median of a moving track's bottom
    overlap_iou: float = 0.2  # per frame, a vehicle box overlapping a higher-scored one more is dropped (1: off)
    overlap_factor: float = 0.3  # ... or keeps this share of its score (0: dropped)
    # overlapping tracks are ranked by best score x outline fit (the share of the non-ground points
    # within overlap_fit_margin m of a box that lie inside it within overlap_fit_band m of its outline,
    # mean over the frames it overlaps another); False: by best score alone
    overlap_fit: bool = True
    overlap_fit_margin: float = 0.5
    overlap_fit_band: float = 0.25
    link_moving: bool = True  # join moving vehicle tracks that break and resume (offline.py)
    link_overlap: int = 2  # ... overlapping by at most this many frames
    link_distance: float = 2.0  # m: ... when each one's extrapolation reaches the other's end this close
    link_speed: float = 3.0  # m/s: ... and their velocities differ less
    # moving vehicle boxes above the knee are less often right than static ones of the same score
    # (one frame's partial view against one fit to every frame): their excess over it is scaled
    moving_score_scale: float = 0.5
    moving_score_knee: float = 0.4  # the score where car precision rises past 0.5 (tuning seeds, docs)
    # a car's track score x (1 - w + w x the share of its footprint ever seen); other classes w = 0.5.
    # Lower for cars since the offline pass places partly seen ones (parked: all frames pooled)
    car_seen_weight: float = 0.3
    # a parked car is there before its track starts and after it ends: its box is added in frames whose
    # non-ground points put this many in it, for tracks scored at least extend_min_score (0: off)
    extend_static: int = 10
    extend_min_score: float = 0.4
    # moving vehicles: one length and one along-track correction fitted to all frames' ends (moving_shape.py)
    moving_shape: bool = True
    moving_shape_classes: tuple[str, ...] = ("car",)
    moving_shape_degree: int = 1  # polynomial degree in time of the along-track correction
    moving_shape_absolute: bool = False  # fit one smooth motion (degree 2) to the ends, not a correction (docs: off)
    moving_shape_margin: float = 1.0  # m: each frame's box grown by this along the heading for its points
    moving_shape_min_share: float = 0.3  # the length is measured when front and rear were each seen in this share
    moving_shape_pad: float = 0.0  # point spacings added beyond each measured end
    moving_shape_knot: float = 1.0  # s between knots where the along-track correction may bend (0: a line)
    moving_shape_bend: float = 0.2  # ridge weight of a bend
    merge_static: bool = True  # join static vehicle tracks of one place seen in turns (offline.py)
    merge_iou: float = 0.3  # ... whose boxes overlap this much (bird's-eye IoU)
    merge_distance: float = 1.5  # ... or whose centres are this close (m)
    merge_overlap: int = 1  # ... and which share at most this many observed frames
    # a track seen as one vehicle class for this many frames, then as another for as many, moving at
    # speeds more than link_speed apart, was taken over by a second vehicle (a truck passing a parked
    # car): cut in two (takeover.py; 0: off)
    split_takeover: int = 3
    # a vehicle read as moving is parked when most of its cluster pairs ~0.5 s apart coincide better
    # unshifted than shifted by the track's motion (still_points.py); this share of >= 3 pairs (> 1: off)
    still_share: float = 0.67
    still_gap: tuple[int, int] = (3, 8)  # frames between the clouds compared
    still_min_shift: float = 0.3  # m: pairs whose two readings differ less are not compared


@dataclass
class RefinedTrack:
    """A refined track: category, per-frame boxes (7,) in the world frame, scores, bridged frames."""

    id: str
    category: str
    detection_class: str
    boxes: dict[int, np.ndarray]
    scores: dict[int, float]
    interpolated: set[int] = field(default_factory=set)
    moving: bool = False


def anchor_centre(observed: np.ndarray, yaw: float, length: float, width: float, sensor: np.ndarray) -> np.ndarray:
    """xy centre (2,) of a (length, width, yaw) box placed on an observed (7,) box's visible sides.

    Along each axis where the observation is shorter than the box, the side
    nearer the sensor (3,) stays fixed; if the sensor lies between both sides
    the box is centred on the observation.
    """
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.array([[c, s], [-s, c]])
    uv = bev_corners(observed[None])[0] @ rot.T
    su = rot @ np.asarray(sensor, dtype=float)[:2]
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    centre = (lo + hi) / 2
    for k, size in enumerate((length, width)):
        if hi[k] - lo[k] >= size or lo[k] <= su[k] <= hi[k]:
            continue
        centre[k] = lo[k] + size / 2 if abs(su[k] - lo[k]) < abs(su[k] - hi[k]) else hi[k] - size / 2
    return rot.T @ centre


def _axial_mean(yaws: np.ndarray, weights: np.ndarray) -> float:
    """Weighted mean of headings modulo pi (a box heading and its reverse are one axis)."""
    a = np.angle(np.sum(weights * np.exp(2j * yaws))) / 2
    return float(a)


def _own_spans(obs: Observation, yaw: float) -> np.ndarray:
    """Observed (along, across) extents of a detection in the axes of heading ``yaw``.

    Taken from the detection's own fitted rectangle (which hugs the points),
    assigned to the track's axes by which of its sides lies closer to ``yaw``.
    """
    d = abs(float(normalize_yaw(2 * (obs.observed[6] - yaw)))) / 2  # axial difference in [0, pi/2]
    ext = obs.observed[3:5]
    return ext[::-1].copy() if d > np.pi / 4 else ext.copy()


def _moving_heading(obs: list[Observation], first: int, states: np.ndarray, speed: np.ndarray,
                    min_speed: float, npts: np.ndarray) -> np.ndarray:
    """Heading (T,) of a moving track: the fitted box axis pointed along the motion.

    The fitted axis is precise where the points show the object's outline; the
    motion decides its direction and stands in where the fit disagrees by more
    than 30 degrees or is missing. A short weighted axial average smooths it.
    """
    motion = np.arctan2(states[:, 3], states[:, 2])
    slow = speed < min_speed
    if slow.any() and (~slow).any():  # keep the nearest good heading while (nearly) stopped
        good = np.flatnonzero(~slow)
        motion = motion[good[np.argmin(np.abs(np.arange(len(speed))[:, None] - good[None]), axis=1)]]
    yaw = motion.copy()
    weight = np.full(len(motion), 0.5)
    for ob, n in zip(obs, npts):
        k = ob.frame - first
        cand = ob.box[6] + np.array([0.0, np.pi / 2, np.pi, -np.pi / 2])
        diff = np.abs(normalize_yaw(cand - motion[k]))
        j = int(np.argmin(diff))
        if diff[j] < np.deg2rad(30) and n > 0:
            yaw[k], weight[k] = cand[j], np.sqrt(n)
    out = np.empty_like(yaw)
    for k in range(len(yaw)):
        sl = slice(max(0, k - 2), k + 3)
        z = np.sum(weight[sl] * np.exp(1j * yaw[sl]))
        out[k] = np.angle(z) if abs(z) > 0 else motion[k]
    return out


def _drift(t: np.ndarray, xy: np.ndarray, sigma: np.ndarray) -> float:
    """Distance (m) a straight-line motion fitted to positions xy (T, 2) at times t (T,) covers over the track.

    Weighted by 1 / sigma^2 (T,): a parked car's anchored centres jitter with
    its partial views but do not drift; a moving one's do.
    """
    if len(t) < 3 or np.ptp(t) <= 0:
        return 0.0
    w = 1.0 / np.maximum(sigma, 1e-3) ** 2
    tm = np.sum(w * t) / w.sum()
    dt = t - tm
    d = xy - np.sum(w[:, None] * xy, axis=0) / w.sum()
    v = np.sum((w * dt)[:, None] * d, axis=0) / max(float(np.sum(w * dt * dt)), 1e-9)
    return float(np.hypot(*v) * np.ptp(t))


def _bottoms(raw: np.ndarray, obs: list[Observation], first: int, xy: np.ndarray, moving: bool,
             o: RefineOptions) -> np.ndarray:
    """Box bottom z (T,) of a track from each observed frame's ground (``raw`` (T,), NaN where unobserved).

    Far away the sensor sees no road in a car's shadow and the ground under it
    is read too high: a static object takes the median over its nearest
    frames (``o.near_fraction`` of them); a moving one a running median.
    """
    known = np.isfinite(raw)
    out = np.interp(np.arange(len(raw)), np.flatnonzero(known), raw[known])
    if not moving:
        rng = np.array([np.hypot(*(xy[ob.frame - first] - ob.sensor[:2])) for ob in obs])
        k = max(1, int(np.ceil(o.near_fraction * len(obs))))
        near = np.argsort(rng)[:k]
        out[:] = np.median([raw[obs[i].frame - first] for i in near])
    elif o.bottom_window > 1:
        h = o.bottom_window // 2
        out = np.array([np.median(out[max(0, t - h):t + h + 1]) for t in range(len(out))])
    return out


def _keep_detector_boxes(rec, obs, span_frames, t_all, meas, states, moving, o) -> RefinedTrack:
    """Refinement for detectors that know sizes and categories: smooth, one size, bridge gaps."""
    cats: dict[str, float] = {}
    for ob in obs:
        cats[ob.category] = cats.get(ob.category, 0.0) + ob.score
    category = max(cats, key=cats.get)
    size = np.median([ob.box[3:6] for ob in obs], axis=0)
    yaw = np.arctan2(states[:, 3], states[:, 2]) if moving else np.full(
        len(span_frames), _axial_mean(np.array([ob.box[6] for ob in obs]), np.ones(len(obs))))
    z = np.interp(span_frames, [ob.frame for ob in obs], [ob.box[2] for ob in obs])
    score = float(np.mean(sorted((ob.score for ob in obs), reverse=True)[:5]))
    frames = {ob.frame for ob in obs}
    boxes, scores, interp = {}, {}, set()
    for k, f in enumerate(span_frames):
        if f not in frames:
            prv = max(g for g in frames if g < f)
            nxt = min(g for g in frames if g > f)
            if nxt - prv - 1 > o.max_gap:
                continue
            interp.add(int(f))
        boxes[int(f)] = np.array([states[k, 0], states[k, 1], z[k], *size, float(normalize_yaw(yaw[k]))])
        scores[int(f)] = score * (0.9 if f in interp else 1.0)
    dclass = obs[0].detection_class
    return RefinedTrack(rec.id, category, dclass, boxes, scores, interp, moving)


def refine_track(
    rec: TrackRecord, frame_times_us: np.ndarray, options: RefineOptions | None = None,
) -> RefinedTrack | None:
    """Refine one tracked object over the whole sequence; None if it is too short or not an object.

    ``frame_times_us`` (F,) are the scene's frame timestamps (for bridged frames).
    """
    o = options or RefineOptions()
    frames = rec.frames()
    if len(frames) < o.min_observations:
        return None
    obs = [rec.observations[f] for f in frames]
    npts = np.array([ob.num_points for ob in obs], dtype=float)
    # Motion from the smoothed fitted centres.
    span_frames = np.arange(frames[0], frames[-1] + 1)
    t_all = frame_times_us[span_frames].astype(float) / 1e6
    meas = np.full((len(span_frames), 2), np.nan)
    for ob in obs:
        meas[ob.frame - frames[0]] = ob.box[:2]
    votes: dict[str, float] = {}
    for ob in obs:
        votes[ob.detection_class] = votes.get(ob.detection_class, 0.0) + ob.score
    cls_vote = max(votes, key=votes.get)
    accel = ACCEL.get(cls_vote, 3.0)
    states = rts_smooth(t_all, meas, accel, o.measurement_sigma)
    speed = np.hypot(states[:, 2], states[:, 3])
    # a track is moving when its smoothed path spans more than the jitter of partial views
    scale = o.vru_scale if cls_vote in ("pedestrian", "cyclist") else 1.0
    spread = float(np.hypot(*np.ptp(states[:, :2], axis=0)))
    moving = spread > scale * o.moving_distance and float(np.max(speed)) > scale * o.moving_speed
    fit_yaw = np.array([ob.box[6] for ob in obs])
    if not o.reclassify or cls_vote not in CLASS_RANGES:
        return _keep_detector_boxes(rec, obs, span_frames, t_all, meas, states, moving, o)
    def solve(moving: bool):
        """Heading, class, size and anchored centres under a moving or a static reading."""
        if moving:
            # a walking person's outline says nothing of the heading: use the motion alone
            fit_weight = 0.0 if cls_vote == "pedestrian" else 1.0
            yaw_all = _moving_heading(obs, frames[0], states, speed, scale * o.moving_speed,
                                      npts * fit_weight)
        else:
            yaw_all = np.full(len(span_frames), _axial_mean(fit_yaw, npts))
        # Size and category from the best-observed frames.
        spans = np.array([_own_spans(ob, yaw_all[ob.frame - frames[0]]) for ob in obs])
        tops = np.array([ob.observed[5] for ob in obs])
        best = npts >= np.percentile(npts, 50)
        # sampled outlines fall short of the true edges by about one point spacing
        spacing = o.angular_spacing * float(np.median([np.hypot(*(ob.box[:2] - ob.sensor[:2])) for ob in obs]))
        L_obs = float(np.percentile(spans[best, 0], 90)) + spacing
        W_obs = float(np.percentile(spans[best, 1], 90)) + spacing
        H_obs = float(np.percentile(tops[best], 90))
        fill = float(np.median([ob.fill for ob in obs]))
        cls = classify_extents(max(L_obs, W_obs), min(L_obs, W_obs), H_obs, fill)
        if cls is None:
            return None
        name = cls.detection_class
        if name in ("car", "truck", "bus"):  # flat flanks: mirrors widen the outline
            W_obs = float(np.percentile(spans[best, 1], 75)) + 0.5 * spacing
        # a static track's heading is the fitted one; swap axes only where the class reading disagrees
        if name != "pedestrian" and not moving and (L_obs < W_obs) != cls.across:
            yaw_all = yaw_all + np.pi / 2
            spans = spans[:, ::-1]
            L_obs, W_obs = W_obs, L_obs
        r = CLASS_RANGES[name]
        prior = size_prior(name)
        L = L_obs if L_obs >= r.length[0] else max(L_obs, prior[0])
        W = W_obs if W_obs >= r.width[0] else max(W_obs, prior[1])
        H = H_obs if H_obs >= r.height[0] else max(H_obs, prior[2])
        if o.unseen_top and np.mean([ob.top_cut for ob, b in zip(obs, best) if b]) > 0.5:
            H = max(H, prior[2])  # mostly topped by the highest laser: the measured top is a lower bound
        L, W, H = min(L, r.length[1]), min(W, r.width[1]), min(H, r.height[1])
        # Re-place every observation on its visible sides, then smooth.
        anchored = np.full((len(span_frames), 2), np.nan)
        bottoms = np.full(len(span_frames), np.nan)
        sigmas = np.full(len(span_frames), o.measurement_sigma)
        for ob in obs:
            k = ob.frame - frames[0]
            anchored[k] = anchor_centre(ob.observed, yaw_all[k], L, W, ob.sensor)
            bottoms[k] = ob.box[2] - ob.box[5] / 2
            if o.unseen_weight > 0:
                # an occluder can hide the end a partial view is anchored on: the unseen extent
                # is how far the centre may be off
                sl, sw = _own_spans(ob, yaw_all[k])
                unseen = np.hypot(max(L - sl, 0.0), max(W - sw, 0.0))
                sigmas[k] = np.hypot(o.measurement_sigma, o.unseen_weight * unseen)
        seen = min(1.0, L_obs / L) * min(1.0, W_obs / W)  # how much of the footprint was ever seen
        # Bicycle or motorcycle, truck or bus: by length. One sweep's span falls short by about one azimuth
        # step, half the (vertical) angular spacing on a 64-beam sensor: the whole spacing of L_obs made
        # bicycles far away as long as motorcycles, no padding made motorcycles as short as bicycles.
        category = r.category
        if name == "cyclist":
            category = two_wheeler_category(L_obs - spacing / 2)
        elif name == "truck" and o.bus_by_length:
            category = long_vehicle_category(L_obs - spacing / 2)
        return yaw_all, cls, name, L, W, H, anchored, bottoms, seen, sigmas, category

    solved = solve(moving)
    if moving and cls_vote not in ("pedestrian", "cyclist"):
        # partial views shift a parked car's fitted centre as the ego drives by: keep it static
        # when one box placed on the visible sides explains every frame
        still = solve(False)
        if still is not None:
            ok = np.isfinite(still[6][:, 0])
            c = still[6][ok]
            if np.percentile(np.hypot(*(c - np.median(c, axis=0)).T), 80) < o.static_tolerance:
                moving, solved = False, still
            elif o.static_drift and _drift(t_all[ok], c, still[9][ok]) < o.moving_distance:
                # far partial views jitter more than the tolerance, but a parked car does not drift
                moving, solved = False, still
        if moving and solved is not None and still is not None and o.still_share <= 1.0:
            pts = [ob.points for ob in obs]
            xy_m = rts_smooth(t_all, solved[6], accel, solved[9])[:, :2]
            n_still, n = still_votes(pts, frames, xy_m[np.asarray(frames) - frames[0]], o.still_gap,
                                     o.still_min_shift)
            if n >= 3 and n_still > o.still_share * n:
                moving, solved = False, still
    if solved is None:
        return None
    yaw_all, cls, name, L, W, H, anchored, bottoms, seen, sigmas, category = solved
    if moving:
        xy = rts_smooth(t_all, anchored, accel, sigmas)[:, :2]
    else:
        known = np.isfinite(anchored[:, 0])
        w = npts / sigmas[known] ** 2
        w = w / w.sum()
        xy = np.tile(np.sum(anchored[known] * w[:, None], axis=0), (len(span_frames), 1))
    bottoms = _bottoms(bottoms, obs, frames[0], xy, moving, o)
    scores_sorted = np.sort([ob.score for ob in obs])[::-1]
    track_score = float(np.mean(scores_sorted[:5]) * (1.0 - np.exp(-len(obs) / 4.0)))
    # a box whose size came from priors rather than points is less often placed right
    seen_w = o.car_seen_weight if name == "car" else 0.5
    track_score = float(np.clip(track_score * (0.5 + 0.5 * cls.confidence) * (1.0 - seen_w + seen_w * seen), 0.0, 1.0))
    observed_set = set(frames)
    out_boxes, out_scores, interp = {}, {}, set()
    for k, f in enumerate(span_frames):
        if f not in observed_set:
            # bridge only gaps no longer than max_gap
            nxt = min((g for g in frames if g > f), default=None)
            prv = max((g for g in frames if g < f), default=None)
            if nxt is None or prv is None or nxt - prv - 1 > (o.max_gap if moving else o.static_max_gap):
                continue
            interp.add(int(f))
        out_boxes[int(f)] = np.array([xy[k, 0], xy[k, 1], bottoms[k] + H / 2, L, W, H,
                                      float(normalize_yaw(yaw_all[k]))])
        out_scores[int(f)] = track_score * (0.9 if f in interp else 1.0)
    return RefinedTrack(rec.id, category, name, out_boxes, out_scores, interp, moving)
