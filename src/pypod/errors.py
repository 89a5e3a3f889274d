"""Every error pypod raises: one tree, each class carrying podman's exit code.

The library raises these; the CLI prints ``Error: <message>`` and exits with
``exit_code``.  Nothing else should escape the CLI.
"""

from __future__ import annotations


class PypodError(Exception):
    """Base of every pypod error; exit code 125 (engine error) unless overridden."""

    exit_code: int = 125

    def __init__(self, message: str = "", *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self)


# --- lookups -----------------------------------------------------------------
class NotFound(PypodError):
    """Something named by the user does not exist."""


class NoSuchContainer(NotFound):
    pass


class NoSuchImage(NotFound):
    pass


class NoSuchVolume(NotFound):
    pass


class NoSuchPod(NotFound):
    pass


class NoSuchNetwork(NotFound):
    pass


class NoSuchExecSession(NotFound):
    pass


class NoSuchLayer(NotFound):
    pass


class AmbiguousName(PypodError):
    """A prefix or short name matches more than one object."""


class AlreadyExists(PypodError):
    """A name or ID is already in use."""


# --- arguments and state -----------------------------------------------------
class InvalidArgument(PypodError):
    """A flag, reference or value the user gave cannot be used."""


class TemplateError(InvalidArgument):
    """A --format Go template that cannot be parsed or executed."""


class InvalidState(PypodError):
    """The object is not in a state that allows the operation."""


class InUse(PypodError):
    """The object is used by something else (an image by a container, a container by another)."""


class DependencyError(PypodError):
    """A dependency of a container could not be started, or forms a cycle."""


class Timeout(PypodError):
    pass


# --- components --------------------------------------------------------------
class OCIRuntimeError(PypodError):
    """The OCI runtime (runc/crun) or conmon failed; the message carries their words."""


class CommandNotFound(OCIRuntimeError):
    """The container's command does not exist (podman exit code 127)."""

    exit_code = 127


class CommandNotExecutable(OCIRuntimeError):
    """The container's command cannot be executed (podman exit code 126)."""

    exit_code = 126


class CriuUnavailable(OCIRuntimeError):
    """Checkpoint/restore needs CRIU, which cannot run on this host."""


class StorageError(PypodError):
    """Layer, image or container storage failed."""


class HostileArchive(StorageError):
    """An archive entry would write outside its target or is malformed."""


class DigestMismatch(StorageError):
    """Content does not match the digest it was announced with."""


class NoSpace(StorageError):
    """The disk holding the graph root is full."""


class DatabaseError(PypodError):
    """The state database is unreadable or inconsistent."""


class DatabaseMismatch(DatabaseError):
    """The database was created with other paths or another storage driver."""


class NetworkError(PypodError):
    """Setting up or tearing down a network failed."""
