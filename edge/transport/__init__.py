"""Getting events off the box: the event JSON (`events`), the durable SQLite outbox, broker
addresses, credentials and TLS options (`address`), and MQTT (`mqtt/`, the only code that
imports paho; a ruff rule enforces it).

May import `edge.core` (decisions) and `edge.errors`; never pipeline, thermal, vision, app or
cli. Topics and payloads: docs/mqtt.md."""
