"""The offline pass over a whole scene: refine every track, then merge what belongs together.

Runs once per scene after the detector and the tracker (:mod:`.batch`).
A parked car far away comes and goes as its cluster does: the tracker sees
several short tracks at one place, one after the other. Static vehicle tracks
whose boxes overlap and whose frames do not are one object: their
observations are pooled into one record and refined again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from lidarlabel.core.boxes import (
    bev_iou_matrix,
    normalize_yaw,
    points_in_boxes,
    points_to_box_frame,
)
from lidarlabel.prelabel.accumulate import crop_tracks, extend_static, static_shape
from lidarlabel.prelabel.classify import CLASS_RANGES, VEHICLES, size_prior
from lidarlabel.prelabel.moving_shape import refit_moving
from lidarlabel.prelabel.refine import RefinedTrack, RefineOptions, refine_track
from lidarlabel.prelabel.takeover import split_takeovers
from lidarlabel.prelabel.tracker import TrackRecord

__all__ = ["link_candidates", "merge_candidates", "outline_fit", "refine_scene"]


_RANGE_NOISE = 0.05  # m: a return's range error; the least a crop is grown by across a measured side
_MOVER_SHARE = 0.2  # a moving box sharing more of its footprint with a parked car's box is the car (a ghost)


def _static_box(r: RefinedTrack) -> np.ndarray:
    return next(iter(r.boxes.values()))


def merge_candidates(refined: list[RefinedTrack], records: dict[str, TrackRecord], o: RefineOptions,
                     ) -> list[list[str]]:
    """Groups of track ids (each >= 2) that are one parked vehicle seen in turns.

    Candidates are static vehicle tracks; two are joined when their boxes
    overlap (bird's-eye IoU >= ``o.merge_iou``) or their centres lie within
    ``o.merge_distance`` m, and their observed frames overlap by at most
    ``o.merge_overlap`` frames (a whole group included). Closest pairs first.
    """
    cand = [r for r in refined if not r.moving and r.detection_class in VEHICLES]
    if len(cand) < 2:
        return []
    boxes = np.array([_static_box(r) for r in cand])
    iou = bev_iou_matrix(boxes, boxes)
    dist = np.linalg.norm(boxes[:, None, :2] - boxes[None, :, :2], axis=2)
    frames = [set(records[r.id].observations) for r in cand]
    pairs = [(dist[i, j], i, j) for i in range(len(cand)) for j in range(i + 1, len(cand))
             if iou[i, j] >= o.merge_iou or dist[i, j] <= o.merge_distance]
    group = list(range(len(cand)))
    members = {i: [i] for i in range(len(cand))}
    seen = {i: set(frames[i]) for i in range(len(cand))}
    for _, i, j in sorted(pairs):
        gi, gj = group[i], group[j]
        if gi == gj or len(seen[gi] & seen[gj]) > o.merge_overlap:
            continue
        for k in members[gj]:
            group[k] = gi
        members[gi] += members.pop(gj)
        seen[gi] |= seen.pop(gj)
    return [[cand[k].id for k in sorted(m, key=lambda k: min(frames[k]))] for m in members.values() if len(m) > 1]


def _end_state(r: RefinedTrack, times_s: np.ndarray, last: bool) -> tuple[int, np.ndarray, np.ndarray]:
    """Frame, xy (2,) and velocity (2,) m/s at one end of a track (from its last or first 4 boxes)."""
    fr = sorted(r.boxes)
    f0, f1 = (fr[-min(4, len(fr))], fr[-1]) if last else (fr[0], fr[min(3, len(fr) - 1)])
    dt = times_s[f1] - times_s[f0]
    v = (r.boxes[f1][:2] - r.boxes[f0][:2]) / dt if dt > 0 else np.zeros(2)
    f = f1 if last else f0
    return f, r.boxes[f][:2], v


def link_candidates(refined: list[RefinedTrack], times_s: np.ndarray, o: RefineOptions) -> list[list[str]]:
    """Chains of moving vehicle track ids (each >= 2) that are one vehicle whose track broke.

    A track that ends and one that starts within ``o.max_gap`` frames (or
    overlaps it by up to ``o.link_overlap``) are joined when each one's
    constant-velocity extrapolation reaches the other's end within
    ``o.link_distance`` m and their velocities differ by less than
    ``o.link_speed`` m/s. Best pairs first; one successor per track.
    """
    cand = [r for r in refined if r.moving and r.detection_class in VEHICLES]
    ends = {r.id: _end_state(r, times_s, True) for r in cand}
    starts = {r.id: _end_state(r, times_s, False) for r in cand}
    pairs = []
    for a in cand:
        fa, pa, va = ends[a.id]
        for b in cand:
            fb, pb, vb = starts[b.id]
            if a is b or not -o.link_overlap <= fb - fa <= o.max_gap + 1 or min(b.boxes) <= min(a.boxes):
                continue
            dt = times_s[fb] - times_s[fa]
            miss = max(np.hypot(*(pa + va * dt - pb)), np.hypot(*(pb - vb * dt - pa)))
            if miss < o.link_distance and np.hypot(*(va - vb)) < o.link_speed:
                pairs.append((miss, a.id, b.id))
    nxt: dict[str, str] = {}
    prv: dict[str, str] = {}
    for _, a, b in sorted(pairs):
        if a in nxt or b in prv:
            continue
        nxt[a], prv[b] = b, a
    chains = []
    for head in (r.id for r in cand if r.id in nxt and r.id not in prv):
        chain = [head]
        while chain[-1] in nxt:
            chain.append(nxt[chain[-1]])
        chains.append(chain)
    return chains


def _pooled(recs: list[TrackRecord]) -> TrackRecord:
    """One record with every observation of ``recs``; on a shared frame the one with more points."""
    out = TrackRecord(recs[0].id)
    for rec in recs:
        for f, ob in rec.observations.items():
            if f not in out.observations or ob.num_points > out.observations[f].num_points:
                out.observations[f] = ob
    out.observations = dict(sorted(out.observations.items()))
    return out


def refine_scene(
    records: list[TrackRecord], frame_times_us: np.ndarray, options: RefineOptions | None = None,
    frame_points: Mapping[int, np.ndarray] | None = None,
) -> list[RefinedTrack]:
    """Refined tracks of one scene (world frame), ids renumbered ``p00000...`` by first frame.

    ``frame_times_us`` (F,) the scene's frame timestamps; ``frame_points``
    frame -> (M, 3) world-frame non-ground points of that frame (optional).
    """
    o = options or RefineOptions()
    if frame_points:  # sorted by x once: every later crop's stable sort of a frame is then linear
        frame_points = {f: p[np.argsort(p[:, 0], kind="stable")] if p is not None and len(p) else p
                        for f, p in frame_points.items()}
    records = split_takeovers(records, o.split_takeover, o.link_speed)
    by_id = {rec.id: rec for rec in records}
    refined = {r.id: r for r in (refine_track(rec, frame_times_us, o) for rec in records) if r is not None}
    if o.merge_static:
        for ids in merge_candidates(list(refined.values()), by_id, o):
            merged = _pooled([by_id[i] for i in ids])
            r = refine_track(merged, frame_times_us, o)
            if r is None or r.moving or r.detection_class not in VEHICLES:
                continue  # the pooled frames are no single parked vehicle after all
            for i in ids:
                refined.pop(i)
            refined[r.id] = r
            by_id[r.id] = merged
    if o.link_moving:
        times_s = np.asarray(frame_times_us, dtype=float) / 1e6
        for ids in link_candidates(list(refined.values()), times_s, o):
            ids = [i for i in ids if i in refined]
            merged = _pooled([by_id[i] for i in ids])
            r = refine_track(merged, frame_times_us, o)
            if r is None or r.detection_class not in VEHICLES:
                continue
            for i in ids:
                refined.pop(i)
            refined[r.id] = r
            by_id[r.id] = merged
    if o.moving_shape and frame_points:
        mv = [r for r in refined.values() if r.moving and r.detection_class in o.moving_shape_classes]
        times_s = np.asarray(frame_times_us, dtype=float) / 1e6
        sensors = {r.id: {f: ob.sensor for f, ob in by_id[r.id].observations.items()} for r in mv}
        refit_moving(mv, frame_points, sensors, times_s,
                     {c: CLASS_RANGES[c].length for c in o.moving_shape_classes},
                     {c: size_prior(c)[0] for c in o.moving_shape_classes}, o.angular_spacing,
                     along_margin=o.moving_shape_margin, degree=o.moving_shape_degree,
                     absolute=o.moving_shape_absolute, min_share=o.moving_shape_min_share,
                     pad=o.moving_shape_pad, knot_s=o.moving_shape_knot, bend=o.moving_shape_bend)
    if o.accumulate and frame_points:
        _refit_static([r for r in refined.values() if not r.moving and r.detection_class in o.accumulate_classes],
                      by_id, frame_points, o, [r for r in refined.values() if r.moving] if o.accumulate_movers else [])
    if o.moving_score_scale != 1.0:  # rank a static vehicle's box above a moving one of the same score
        for r in refined.values():
            if r.moving and r.detection_class in VEHICLES:
                c = o.moving_score_knee
                r.scores = {f: v if v <= c else c + (v - c) * o.moving_score_scale for f, v in r.scores.items()}
    if o.extend_static > 0 and frame_points:
        extend_static([r for r in refined.values() if not r.moving and r.detection_class == "car"
                       and max(r.scores.values(), default=0.0) >= o.extend_min_score],
                      frame_points, o.extend_static)
    if o.overlap_iou < 1.0:
        _suppress_overlaps(list(refined.values()), o.overlap_iou, o.overlap_factor,
                           frame_points if o.overlap_fit else None, o.overlap_fit_margin, o.overlap_fit_band)
    out = sorted((r for r in refined.values() if r.boxes), key=lambda r: (min(r.boxes), r.id))
    prefix = records[0].id.rstrip("0123456789") if records else "p"
    for n, r in enumerate(out):
        r.id = f"{prefix}{n:05d}"
    return out


def _refit_static(tracks: list[RefinedTrack], records: dict[str, TrackRecord],
                  frame_points: Mapping[int, np.ndarray], o: RefineOptions,
                  movers: Sequence[RefinedTrack] = ()) -> None:
    """Give each static vehicle track (in place) the one box fitted to its points of all frames.

    Points inside a box of one of the ``movers`` (moving tracks) in that frame
    are left out: a truck passing the car, or someone walking by, is not the car.
    """
    if not tracks:
        return
    moving: dict[int, list[np.ndarray]] = {}
    for m in movers:
        for f, b in m.boxes.items():
            moving.setdefault(f, []).append(b)
    def own(cloud: np.ndarray, f: int, box: np.ndarray) -> np.ndarray:
        return _without_movers(cloud, box, moving.get(f, []), o.accumulate_margin)

    clouds: dict[str, list[np.ndarray]] = {r.id: [] for r in tracks}
    sensors: dict[str, list[np.ndarray]] = {r.id: [] for r in tracks}
    frames: dict[str, list[int]] = {r.id: [] for r in tracks}
    by_frame: dict[int, list[RefinedTrack]] = {}
    for r in tracks:
        for f in records[r.id].observations:
            by_frame.setdefault(f, []).append(r)
    for f, rs in by_frame.items():
        pts = frame_points.get(f)
        if pts is None or len(pts) == 0:
            continue
        for r, c in zip(rs, crop_tracks(pts, np.array([_static_box(r) for r in rs]), o.accumulate_margin)):
            clouds[r.id].append(own(c, f, _static_box(r)))
            sensors[r.id].append(records[r.id].observations[f].sensor)
            frames[r.id].append(f)
    for r in tracks:
        box = _static_box(r)
        if not clouds[r.id]:
            continue
        sens = np.array(sensors[r.id])
        fitted = _fit_static(clouds[r.id], sens, box, r.detection_class, o, turn=True)
        if fitted is None:
            continue
        new, turned = fitted
        if turned and o.accumulate_recrop:
            # the crop was the box across the car: it cut the length; crop again with the turned box.
            # Only along it: that crop spanned the car's whole width (the track's length lay across
            # it), so the width is measured; beyond one return spacing across, the new points beside
            # the car (a pole, a wall, a neighbour) are not the car
            across = max(_spacing(sens, new, o), _RANGE_NOISE)
            grow = 2 * (o.accumulate_margin - across)
            crop = new + np.array([0.0, 0.0, 0.0, grow, 0.0, grow, 0.0])
            again = [own(crop_tracks(frame_points[f], crop[None], across)[0], f, new) for f in frames[r.id]]
            refit = _fit_static(again, sens, new, r.detection_class, o, turn=False)
            new = refit[0] if refit is not None else new
        for f in r.boxes:
            r.boxes[f] = new.copy()


def _without_movers(cloud: np.ndarray, box: np.ndarray, movers: list[np.ndarray], margin: float) -> np.ndarray:
    """(N, 3) world points of ``cloud`` (a crop of ``box`` grown by ``margin`` m) outside the moving boxes (7,)
    of ``movers`` that are other objects.

    A moving box sharing more than a fifth of its own footprint with the
    parked car's ``box`` (7,) is no other object but the car itself (read as
    moving in a frame) or a piece of it (a ghost track on its end): its
    points stay. The test is on the mover's own area, not IoU: a person-sized
    box wholly inside a car has an IoU of 0.04.
    """
    if not movers or len(cloud) == 0:
        return cloud
    others = np.array(movers)
    reach = np.hypot(*box[3:5]) / 2 + np.sqrt(2) * margin + np.hypot(others[:, 3], others[:, 4]) / 2
    others = others[np.hypot(*(others[:, :2] - box[:2]).T) < reach]  # boxes that can reach the crop at all
    if len(others) == 0:
        return cloud
    iou = bev_iou_matrix(box[None], others)[0]
    own_area = others[:, 3] * others[:, 4]
    shared = iou * (box[3] * box[4] + own_area) / (1.0 + iou)  # intersection area from the IoU
    others = others[shared <= _MOVER_SHARE * own_area]
    return cloud[~points_in_boxes(cloud, others).any(axis=0)] if len(others) else cloud


def _spacing(sens: np.ndarray, box: np.ndarray, o: RefineOptions) -> float:
    """Distance (m) between neighbouring returns at the median range of ``box`` (7,) from ``sens`` (K, 3)."""
    return o.angular_spacing * float(np.median(np.hypot(*(sens[:, :2] - box[:2]).T)))


def _fit_static(clouds: list[np.ndarray], sens: np.ndarray, box: np.ndarray, dclass: str, o: RefineOptions,
                turn: bool) -> tuple[np.ndarray, bool] | None:
    """One box (7,) for a static vehicle from its per-frame cropped points, and whether it turned the heading.

    ``clouds[k]`` (N_k, 3) world points seen from ``sens[k]`` (3,); ``box`` (7,)
    the track's box (height and bottom are kept). ``turn``: an outline wider
    than the class allows, or a face seen end to end no wider than a car,
    turns the heading by 90 degrees.
    """
    spacing = _spacing(sens, box, o)
    shape = static_shape(clouds, sens, float(box[6]), spacing)
    if shape is None:
        return None
    cr = CLASS_RANGES[dclass]
    ext = shape.hi - shape.lo
    turned = False
    if not turn:
        pass
    elif o.accumulate_swap >= 0 and ext[1] > cr.width[1] + o.accumulate_swap and ext[0] <= cr.width[1]:
        # wider across than any such vehicle, and narrow along: the heading was read off a short flank
        swapped = static_shape(clouds, sens, float(shape.yaw) + np.pi / 2, spacing)
        shape, turned = (swapped, True) if swapped is not None else (shape, False)
    elif (o.accumulate_end_on and shape.seen_lo[0] and shape.seen_hi[0]
          and ext[0] + spacing <= cr.width[1] and not (shape.seen_lo[1] and shape.seen_hi[1])):
        # a face seen end to end, no longer than a car is wide, the depth not: the face is an end
        swapped = static_shape(clouds, sens, float(shape.yaw) + np.pi / 2, spacing)
        shape, turned = (swapped, True) if swapped is not None else (shape, False)
    prior = size_prior(dclass)
    # The flanks are flat from wheel to roof line: every sweep's ring samples their extreme, and the
    # sweeps add up (a whole spacing of padding had made parked cars 0.15-0.25 m too wide). A car's
    # ends bulge only at bumper height, which few rings hit, so the length keeps a whole spacing.
    ext = shape.hi - shape.lo + np.array([spacing, shape.sampling_gap(spacing)[1]])
    size = []
    for k, (lim, want) in enumerate(((cr.length, prior[0]), (cr.width, prior[1]))):
        both = bool(shape.seen_lo[k] and shape.seen_hi[k])
        v = ext[k] if both and ext[k] >= lim[0] else max(ext[k], want)
        size.append(min(v, lim[1]))
    L, W = size
    if not o.accumulate_width:
        W = float(box[4])
    xy = shape.placed(L, W, np.median(sens, axis=0))
    yaw = float(normalize_yaw(shape.yaw))
    return np.array([xy[0], xy[1], box[2], L, W, box[5], yaw]), turned


def outline_fit(points: np.ndarray, boxes: np.ndarray, margin: float, band: float) -> np.ndarray:
    """How well each of ``boxes`` (M, 7) outlines its object among ``points`` (N, 3) world: (M,) in 0..1.

    Of the points within ``margin`` m of a box, the share inside it and within
    ``band`` m of its outline (bird's-eye view): a box cutting a car leaves its
    points outside, one joining two objects holds them far from its sides.
    """
    out = np.zeros(len(boxes))
    for k, (box, near) in enumerate(zip(boxes, crop_tracks(points, boxes, margin))):
        if len(near) == 0:
            continue
        local = points_to_box_frame(near, box)
        depth = np.minimum(box[3] / 2 - np.abs(local[:, 0]),  # > 0 inside (BEV): to the nearest side
                           box[4] / 2 - np.abs(local[:, 1]))
        out[k] = np.mean((depth >= 0) & (depth <= band))
    return out


def _suppress_overlaps(tracks: list[RefinedTrack], max_iou: float, factor: float,
                       frame_points: Mapping[int, np.ndarray] | None = None, margin: float = 0.5,
                       band: float = 0.25) -> None:
    """Per frame, a vehicle box overlapping a better track's box by more than ``max_iou`` (BEV) is scored down.

    Two vehicles cannot overlap: such a pair is one object boxed twice (a
    split cluster, a track and its ghost, a box joining two cars). Tracks
    are ranked once, so one pair always resolves the same way (no identity
    flips): by their best score, times (with ``frame_points``, frame -> (M, 3)
    world non-ground points) their mean :func:`outline_fit` over the frames
    where they overlap another vehicle box. The lesser box keeps ``factor`` x
    its score (0: it is dropped); with ``frame_points`` the kept box takes the
    lesser one's score where that was higher (one object, its confidence).
    """
    per_frame: dict[int, list[RefinedTrack]] = {}
    for r in tracks:
        if r.detection_class in VEHICLES:
            for f in r.boxes:
                per_frame.setdefault(f, []).append(r)
    overlaps: dict[int, tuple[list[RefinedTrack], np.ndarray]] = {}
    for f, rs in per_frame.items():
        if len(rs) >= 2:
            boxes = np.array([r.boxes[f] for r in rs])
            iou = bev_iou_matrix(boxes, boxes)
            np.fill_diagonal(iou, 0.0)
            if (iou > max_iou).any():
                overlaps[f] = (rs, iou)
    fits: dict[int, list[float]] = {}
    if frame_points:
        for f, (rs, iou) in overlaps.items():
            pts = frame_points.get(f)
            if pts is None or len(pts) == 0:
                continue
            idx = np.flatnonzero((iou > max_iou).any(axis=1))
            for i, v in zip(idx, outline_fit(pts, np.array([rs[i].boxes[f] for i in idx]), margin, band)):
                fits.setdefault(id(rs[i]), []).append(float(v))
    rank = {}
    for r in tracks:
        best = max(r.scores.values(), default=0.0)
        fit = float(np.mean(fits[id(r)])) if id(r) in fits else 1.0
        rank[id(r)] = (-best * fit, -best, -len(r.boxes))
    for f, (rs, iou) in overlaps.items():
        order = sorted(range(len(rs)), key=lambda i: rank[id(rs[i])])
        kept: list[int] = []
        raw = [r.scores[f] for r in rs]
        for i in order:
            r = rs[i]
            over = [j for j in kept if iou[i, j] > max_iou]
            if not over:
                kept.append(i)
                continue
            if frame_points:  # the better-outlined box stands for the object: it keeps the pair's confidence
                rs[over[0]].scores[f] = max(rs[over[0]].scores[f], raw[i])
            if factor > 0:
                r.scores[f] *= factor
            else:
                del r.boxes[f], r.scores[f]
                r.interpolated.discard(f)
