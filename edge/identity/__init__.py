"""Who is at the gate: the list store, the gallery, list sync (and passes, the pass issue).

`gallery`: the (M, D) float32 template matrix of one embedding model and its one-product
nearest match. `store`: the SQLite list store (subjects, status, templates; `db` holds its
schema and codecs). `sync` and `wire`: the backend's `lists.snapshot` / `lists.update`
changes as plain values and the rules that apply them (docs/lists.md).

May import `edge.core`, `edge.errors`, numpy, pydantic and the standard library (the crypto /
CBOR libraries when passes come); never sources, transport, commands, app or cli.
"""
