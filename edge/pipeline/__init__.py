"""The screening modes, one per module, on one shared base: thermal-only (heads found in
the thermal frame) and RGB + thermal (faces in RGB, canthi in thermal). A pipeline takes one
frame at a time and returns the decisions it completed; it owns all mutable per-person state
and does no I/O.

May import `edge.core`, `edge.thermal`, `edge.vision` and `edge.errors`; never sources,
transport, commands, app or cli. Built by the composition root (`edge.app`) from parameter
dataclasses."""
