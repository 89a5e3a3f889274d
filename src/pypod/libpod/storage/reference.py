"""Image references: parse ``[domain/]path[:tag][@digest]`` and normalize them like podman.

Short names (no domain) live under ``localhost/`` when pypod names an image itself
(``tag``, ``import``, OCI ref names); Docker archives use Docker's rules
(``busybox`` -> ``docker.io/library/busybox``).  Lookups of a short name also match a
stored name with any registry in front (see :func:`matches_short`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pypod.errors import InvalidArgument

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
# patterns, compiled on first use by re's own cache (listings import this module but parse nothing)
_PATH = rf"^{_COMPONENT}(?:/{_COMPONENT})*$"
_DOMAIN = r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$"
_TAG = r"^[\w][\w.-]{0,127}$"
_DIGEST = r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$"
_HEX64 = r"^[a-f0-9]{64}$"


def is_hex64(text: str) -> bool:
    """A full 64-digit lower-case hex ID."""
    return re.match(_HEX64, text) is not None

DEFAULT_TAG = "latest"
LOCALHOST = "localhost"
DOCKER_DOMAIN = "docker.io"


@dataclass(frozen=True)
class Reference:
    """A parsed reference; ``domain`` is "" for a short name."""

    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def repository(self) -> str:
        """``domain/path`` (or just ``path`` for a short name)."""
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def is_short(self) -> bool:
        return not self.domain

    def __str__(self) -> str:
        text = self.repository
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _invalid(ref: str) -> InvalidArgument:
    del ref
    return InvalidArgument("invalid reference format")


def parse(ref: str) -> Reference:
    """Split ``ref`` into its parts; raise InvalidArgument("invalid reference format")."""
    if not ref or len(ref) > 255 + 200 or ref != ref.strip():
        raise _invalid(ref)
    rest, _, digest = ref.partition("@")
    if digest and not re.match(_DIGEST, digest):
        raise _invalid(ref)
    tag = ""
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not re.match(_TAG, tag):
            raise _invalid(ref)
    domain = ""
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == LOCALHOST or first != first.lower()):
        if not re.match(_DOMAIN, first):
            raise _invalid(ref)
        domain, rest = first, remainder
    if not re.match(_PATH, rest) or len(rest) > 255:
        if re.match(_PATH, rest.lower()):
            raise InvalidArgument("repository name must be lowercase")
        raise _invalid(ref)
    return Reference(domain, rest, tag, digest)


def normalize(ref: str, *, short_domain: str = LOCALHOST) -> Reference:
    """Parse and fill in the domain (``short_domain`` for short names) and the tag ``latest``.

    ``docker.io`` names get Docker's ``library/`` for single-component paths.
    """
    parsed = parse(ref)
    domain = parsed.domain or short_domain
    path = parsed.path
    if domain == DOCKER_DOMAIN and "/" not in path:
        path = f"library/{path}"
    tag = parsed.tag or ("" if parsed.digest else DEFAULT_TAG)
    return Reference(domain, path, tag, parsed.digest)


def normalize_name(ref: str, *, short_domain: str = LOCALHOST) -> str:
    """The stored form of a name given by the user (``foo:1`` -> ``localhost/foo:1``)."""
    return str(normalize(ref, short_domain=short_domain))


def docker_name(ref: str) -> str:
    """Normalize a name found in a Docker archive (``img:1`` -> ``docker.io/library/img:1``)."""
    return normalize_name(ref, short_domain=DOCKER_DOMAIN)


def split_name(name: str) -> tuple[str, str]:
    """(repository, tag) of a stored name; tag "<none>" for a digest-only name."""
    ref = parse(name)
    return ref.repository, ref.tag or "<none>"


def matches_short(stored: Reference, wanted: Reference) -> bool:
    """Whether a stored (full) name answers the short ``wanted`` name: same path, any registry."""
    path = stored.path
    if stored.domain == DOCKER_DOMAIN and path.startswith("library/") and "/" not in wanted.path:
        path = path[len("library/") :]
    if path != wanted.path and stored.path != wanted.path:
        return False
    return stored.tag == (wanted.tag or ("" if wanted.digest else DEFAULT_TAG))


def looks_like_id(text: str) -> bool:
    """A (possibly partial, possibly ``sha256:``-prefixed) image ID."""
    if text.startswith("sha256:"):
        text = text[len("sha256:") :]
    return bool(text) and len(text) <= 64 and all(c in "0123456789abcdef" for c in text)
