"""Errors the user can act on. The CLI prints them as one line and exits non-zero."""


class EdgeError(Exception):
    """Base class: the message alone must tell the user what was wrong and where."""

    exit_code = 2


class ConfigError(EdgeError):
    """A config file or command-line override is invalid."""


class RecordingError(EdgeError):
    """A recording (v1 folder or CPTV file) is missing, truncated, corrupt or inconsistent."""

    exit_code = 3


class BrokerError(EdgeError):
    """The MQTT broker could not be reached, refused us, or did not acknowledge in time."""

    exit_code = 4


class IdentityError(EdgeError):
    """The list store (identity.lists_dir) is missing, unreadable, corrupt, from a newer
    gate-edge, or refuses an edit (unknown subject, a store synced from the backend)."""

    exit_code = 6
