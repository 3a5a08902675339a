"""gate-edge: the process on a compound gate box (thermal screening, passes, MQTT events)."""

__version__ = "0.1.0"
