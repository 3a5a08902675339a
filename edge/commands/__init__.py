"""Signed backend commands: the envelope format (`envelope`), key files (`keys`), the verifier
(`verify`: size, schema, target, key, signature, validity, replay), the inbox that verifies
off the pipeline thread and applies on it (`inbox`), and the registry of handlers the
composition root fills (`handlers`).

May import `edge.errors` and `edge.transport.events` (timestamps); never the pipeline or its
state: what a command does is a handler registered by `edge.app`. Format: docs/commands.md."""
