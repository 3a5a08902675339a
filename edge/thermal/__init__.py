"""Thermal stages on degC frames: radiometry (counts -> degC lookup tables, rotation), the
thermal front end with the reference source (heated disc / blackbody) drift correction, head
finding for thermal-only mode, and the vectorised hot loops (face maximum, canthus discs).

May import `edge.core`, `edge.errors`, numpy and OpenCV; never sources, transport, app or cli.
Stages take small parameter dataclasses, never the whole config."""
