"""Toolkit-neutral pointer events and the gesture logic of the 3D view (no Qt here).

The canvas turns each Qt mouse event into one :class:`PointerEvent` (world
ray, ground-plane point, button, modifiers) and hands it to a
:class:`GestureController`; everything below is plain code driven by those
events, so tests feed fake events with no window. Every edit goes through the
:class:`~lidarlabel.edit.session.EditSession`.

Gestures of the 3D view:
- left click on a cuboid selects it (nearest hit along the ray); on empty space clears the selection;
- Ctrl + left click fits a new cuboid to the object under the cursor (``session.fit_box_at``);
- Shift + left drag draws a rectangle on the ground (bird's-eye) and creates a cuboid from it;
- keys nudge the selected cuboid (see :data:`NUDGE_KEYS`), Shift for fine steps, merged into one undo step.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import numpy as np

from lidarlabel.edit.picking import nearest_point_on_ray, ray_box_hit

__all__ = [
    "GestureController",
    "NUDGE_KEYS",
    "PointerEvent",
    "box_from_ground_rect",
    "nudge",
    "pick_track",
    "ray_ground",
]


@dataclass(frozen=True)
class PointerEvent:
    """One mouse event in world terms.

    kind: press | move | release; ray_origin/ray_dir: (3,) world ray (unit dir);
    ground: (3,) where the ray meets the ground plane, or None; button: left |
    right | middle | none; modifiers: subset of {shift, ctrl, alt}; pos: pixel (x, y).
    """

    kind: str
    ray_origin: np.ndarray
    ray_dir: np.ndarray
    ground: np.ndarray | None
    button: str = "left"
    modifiers: frozenset[str] = field(default_factory=frozenset)
    pos: tuple[float, float] = (0.0, 0.0)


def ray_ground(origin: np.ndarray, direction: np.ndarray, ground_z: float) -> np.ndarray | None:
    """(3,) intersection of a world ray with the plane z = ``ground_z`` (None if it points away)."""
    dz = float(direction[2])
    if abs(dz) < 1e-9:
        return None
    t = (ground_z - float(origin[2])) / dz
    return None if t <= 0 else np.asarray(origin, float) + t * np.asarray(direction, float)


def pick_track(session, origin: np.ndarray, direction: np.ndarray, frame: int | None = None) -> str | None:
    """Id of the track whose box in ``frame`` (default: current) the world ray hits first, or None."""
    ids, boxes = session.doc.frame_boxes(session.frame if frame is None else frame)
    k, _dist = ray_box_hit(origin, direction, boxes)
    return None if k is None else ids[k]


def box_from_ground_rect(a: np.ndarray, b: np.ndarray, screen_up: np.ndarray, ground_z: float,
                         height: float) -> np.ndarray | None:
    """(7,) box from a rectangle dragged on the ground from ``a`` to ``b`` (world points).

    The rectangle's sides follow the screen (``screen_up``: (2,) world direction of the
    screen's up axis); the longer side becomes the length and the heading.
    Returns None for a rectangle smaller than 0.2 m on a side.
    """
    up = np.asarray(screen_up, float)[:2]
    up = up / (np.linalg.norm(up) or 1.0)
    right = np.array([up[1], -up[0]])
    d = np.asarray(b, float)[:2] - np.asarray(a, float)[:2]
    du, dr = float(d @ up), float(d @ right)
    if abs(du) < 0.2 or abs(dr) < 0.2:
        return None
    center = np.asarray(a, float)[:2] + d / 2
    if abs(du) >= abs(dr):
        length, width, heading = abs(du), abs(dr), up
    else:
        length, width, heading = abs(dr), abs(du), right
    yaw = float(np.arctan2(heading[1], heading[0]))
    return np.array([center[0], center[1], ground_z + height / 2, length, width, height, yaw])


FIT_RADIUS = 0.3  # m: how far from the click ray a LiDAR point may be to count as clicked

# key -> (what, axis or sign); steps below. Keys are toolkit-neutral names.
NUDGE_KEYS: dict[str, tuple[str, int, float]] = {
    "W": ("move", 0, +1), "S": ("move", 0, -1),      # along the heading
    "A": ("move", 1, +1), "D": ("move", 1, -1),      # to the box's left / right
    "R": ("move", 2, +1), "F": ("move", 2, -1),      # up / down
    "Q": ("rotate", 0, +1), "E": ("rotate", 0, -1),  # counter-clockwise / clockwise
    "I": ("resize", 0, +1), "K": ("resize", 0, -1),  # length
    "L": ("resize", 1, +1), "J": ("resize", 1, -1),  # width
    "O": ("resize", 2, +1), "U": ("resize", 2, -1),  # height
}
STEPS = {"move": (0.10, 0.02), "rotate": (np.deg2rad(2.0), np.deg2rad(0.25)), "resize": (0.10, 0.02)}


def nudge(session, key: str, fine: bool = False) -> bool:
    """Nudge the selected track's box in the current frame by one step; False if nothing to do.

    Moves are in the box's own frame (forward / left / up); repeated nudges merge into one undo step.
    """
    spec = NUDGE_KEYS.get(key.upper())
    tid = session.selection
    if spec is None or tid is None or session.read_only:
        return False
    track = session.doc.tracks.get(tid)
    if track is None or not track.boxes:
        return False
    frame = session.frame
    if frame in track.boxes:
        box = track.boxes[frame].as_array()
    else:  # nudging where the track has no box starts from its nearest box
        box = track.boxes[min(track.boxes, key=lambda f: abs(f - frame))].as_array()
    what, axis, sign = spec
    step = STEPS[what][1 if fine else 0] * sign
    if what == "move":
        c, s = np.cos(box[6]), np.sin(box[6])
        local = np.zeros(3)
        local[axis] = step
        box[:3] += [c * local[0] - s * local[1], s * local[0] + c * local[1], local[2]]
    elif what == "rotate":
        box[6] += step
    else:
        box[3 + axis] = max(0.05, box[3 + axis] + step)
    session.set_box(tid, frame, box, label=f"Nudge ({what})", merge_key="nudge")
    return True


class GestureController:
    """Routes :class:`PointerEvent` s to the gesture of the moment (a generator: press, moves, release)."""

    def __init__(self, session, ground_z: Callable[[], float], screen_up: Callable[[], np.ndarray]) -> None:
        self.session = session
        self._ground_z = ground_z  # () -> float, ground height of the current frame
        self._screen_up = screen_up  # () -> (2,) world direction of the screen's up axis
        self._active: Generator[None, PointerEvent, None] | None = None

    @property
    def busy(self) -> bool:
        """True while a drag gesture is in progress."""
        return self._active is not None

    def handle(self, ev: PointerEvent) -> bool:
        """Feed one event; True when a gesture consumed it (the canvas then does not orbit)."""
        if self._active is not None:
            try:
                self._active.send(ev)
            except StopIteration:
                self._active = None
            return True
        if ev.kind != "press" or ev.button != "left":
            return False
        if "shift" in ev.modifiers:
            gen = self._draw_rectangle(ev)
        elif "ctrl" in ev.modifiers:
            gen = self._fit_click(ev)
        else:
            gen = self._click_select(ev)
        next(gen)
        self._active = gen
        return True

    def cancel(self) -> None:
        """Abort the gesture in progress (Escape): previews are withdrawn, nothing is pushed."""
        if self._active is not None:
            self._active.close()
            self._active = None
            self.session.preview_box(None, self.session.frame, None)

    # each gesture: receives the press, then yields until release
    def _click_select(self, press: PointerEvent):
        ev = yield
        while ev.kind == "move":
            ev = yield
        if np.hypot(ev.pos[0] - press.pos[0], ev.pos[1] - press.pos[1]) <= 4:
            self.session.select(pick_track(self.session, press.ray_origin, press.ray_dir))

    def _fit_click(self, press: PointerEvent):
        ev = yield
        while ev.kind == "move":
            ev = yield
        s = self.session
        if s.read_only:
            return
        pts = s.points_world(s.frame)
        k = nearest_point_on_ray(press.ray_origin, press.ray_dir, pts, FIT_RADIUS)
        target = pts[k] if k is not None else press.ground
        if target is not None:
            s.fit_box_at(s.frame, np.asarray(target, float))

    def _draw_rectangle(self, press: PointerEvent):
        s = self.session
        start = press.ground
        ev = yield
        box = None
        try:
            while ev.kind == "move":
                if start is not None and ev.ground is not None:
                    h = s.ontology.default_size("vehicle.car")[2]
                    box = box_from_ground_rect(start, ev.ground, self._screen_up(), self._ground_z(), h)
                    s.preview_box(None, s.frame, box)
                ev = yield
        finally:
            s.preview_box(None, s.frame, None)
        if start is not None and ev.ground is not None and not s.read_only:
            h = s.ontology.default_size("vehicle.car")[2]
            box = box_from_ground_rect(start, ev.ground, self._screen_up(), self._ground_z(), h)
            if box is not None:
                s.create_box(s.frame, box[:3], box[3:6], float(box[6]), category="vehicle.car")

