"""The composition root: the only package that knows every stage. `wiring` builds the
pipeline, outbox and publisher from the config; `runner` is the one frame loop that replay
and the live gate share; `replay` and `live` are the two ways to drive it; `checkpoint`
and `sdnotify` serve the live gate.

May import every package except `cli`.
"""
