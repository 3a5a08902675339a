"""Who is at the gate: the list store, the gallery and passes (the identity and pass issues).

Empty today. Will own the (M, D) gallery matrix and its one-product match, the SQLite list
store, pass verification and revocation. May import `edge.core`, `edge.errors`, numpy and
the crypto / CBOR libraries; never sources, transport, app or cli.
"""
