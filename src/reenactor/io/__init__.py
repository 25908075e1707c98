"""Video and image I/O (streaming, PyAV) and atomic file writes."""
