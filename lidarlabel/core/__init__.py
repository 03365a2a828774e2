"""Geometry, boxes, cameras and the label model: plain numpy, no Qt, no I/O libraries."""
