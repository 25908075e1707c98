"""Skeleton spec, extraction backends, smoothing, normalization, rendering and pose metrics."""
