"""lidarlabel: annotate autonomous-driving LiDAR and camera data with 3D cuboids."""

__version__ = "0.1.0"
