"""Synthetic driving scenes (open3d ray casting) for development, tests and the sample."""
