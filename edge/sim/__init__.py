"""Simulators with ground truth: thermal-only and RGB + thermal scenes written as labelled
recordings (`thermal`, `rgb`, their plans and specs), the face library they composite, and
`broker`, a private Mosquitto for tests and the demo.

May import `edge.core`, `edge.sources` (the recording writer), `edge.vision` and
`edge.errors`; never the pipeline, transport, app or cli. A simulator models the scene
physically: where it borrows a pipeline convention (the canthus position), it says so.
"""
