"""Who is at the gate: the list store, the gallery, list sync, pass trust, and passes.

`gallery`: the (M, D) float32 template matrix of one embedding model and its one-product
nearest match. `store`: the SQLite list store (subjects, status, templates, trusted pass
signers, revocations; `db` holds its schema and codecs). `sync` and `wire`: the backend's
`lists.snapshot` / `lists.update` changes as plain values and the rules that apply them
(docs/lists.md). `trustlists`: trusted keys and revocation hashes as values, wire form and
rows; `trust`: `StoreTrust`, the pass verifier's TrustSource over the store. `passes`: the
pass verifier (docs/passes.md).

May import `edge.core`, `edge.errors`, numpy, pydantic, cryptography, cbor2, base45, segno,
zlib and the standard library; never sources, transport, commands, app or cli.
"""
