"""The pure core: frozen value types (frames, stream descriptions, decisions), the one
detections type every detector emits, the tracker, per-track evidence accumulators, the pure
decision function and the skin -> body temperature maps.

No I/O, no clock, no threads. May import numpy and `edge.errors` only; every other package
may import it (it imports nothing from sources, thermal, vision, pipeline, transport,
commands, app, cli, sim or evaluation)."""
