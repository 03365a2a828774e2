"""Synthetic driving scenes: a seeded street, traffic, a spinning LiDAR and cameras,
rendered by ray casting (open3d), with exact ground-truth boxes.

Entry points: :class:`lidarlabel.sim.scene.Simulation` (frame by frame, with the
object hit by every point and pixel) and :func:`lidarlabel.sim.generate.generate`
(writes the scene file and its ``.gt.json``). See docs/sim.md.
"""
