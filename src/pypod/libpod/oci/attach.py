"""Attaching to a container through conmon's ``<bundle>/attach`` SEQPACKET socket.

Packets from conmon start with a stream byte (2 stdout, 3 stderr); stdin is sent
raw and ``shutdown(SHUT_WR)`` signals its end.  Terminal size changes go to the
``<bundle>/ctl`` fifo as ``"1 <height> <width>\\n"``.
"""

from __future__ import annotations

import _socket  # the C module: `socket` builds its enums at import (~2 ms per attached run)
import os
import select

from pypod.errors import InvalidArgument, OCIRuntimeError

TYPE_CHECKING = False  # mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    import socket
    from typing import BinaryIO

PACKET_SIZE = 8193
STDOUT, STDERR = 2, 3
DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"

_CTRL_SPECIAL = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def parse_detach_keys(spec: str) -> bytes:
    """``"ctrl-p,ctrl-q"`` → ``b"\\x10\\x11"``; ``""`` disables detaching."""
    out = bytearray()
    if not spec:
        return bytes(out)
    for key in spec.split(","):
        k = key.strip()
        if len(k) == 1:
            out.append(ord(k))
        elif k.lower().startswith("ctrl-") and len(k) == 6:
            c = k[5].lower()
            if "a" <= c <= "z":
                out.append(ord(c) - ord("a") + 1)
            elif c in _CTRL_SPECIAL:
                out.append(_CTRL_SPECIAL[c])
            else:
                raise InvalidArgument(f"invalid detach keys: {spec}")
        else:
            raise InvalidArgument(f"invalid detach keys: {spec}")
    return bytes(out)


def connect_attach_socket(bundle: str) -> "socket.socket":
    """Connect to ``<bundle>/attach`` through /proc/self/fd (no sun_path length limit)."""
    path = os.path.join(bundle, "attach")
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError as exc:
        raise OCIRuntimeError(f"failed to connect to container's attach socket: {path}: {exc.strerror}") from exc
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    try:
        sock.connect(f"/proc/self/fd/{fd}")
    except OSError as exc:
        sock.close()
        raise OCIRuntimeError(f"failed to connect to container's attach socket: {path}: {exc.strerror}") from exc
    finally:
        os.close(fd)
    return sock


def resize(bundle: str, height: int, width: int) -> None:
    """Ask conmon to resize the container's terminal."""
    try:
        fd = os.open(os.path.join(bundle, "ctl"), os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.write(fd, f"1 {height} {width}\n".encode())
    except OSError:
        pass
    finally:
        os.close(fd)


class _DetachMatcher:
    """Holds back bytes that may begin the detach sequence."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = bytearray()

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """Return (bytes to forward, detached?)."""
        if not self.keys:
            return data, False
        out = bytearray()
        for b in data:
            if b == self.keys[len(self.held)]:
                self.held.append(b)
                if len(self.held) == len(self.keys):
                    return bytes(out), True
                continue
            out += self.held
            self.held.clear()
            if b == self.keys[0]:
                self.held.append(b)
            else:
                out.append(b)
        return bytes(out), False


def _fileno(stream: object) -> int | None:
    try:
        return stream.fileno()  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return None


def _write(stream: BinaryIO | None, data: bytes) -> None:
    if stream is None or not data:
        return
    stream.write(data)
    stream.flush()


def attach(
    bundle: str,
    *,
    stdin: BinaryIO | None,
    stdout: BinaryIO | None,
    stderr: BinaryIO | None,
    detach_keys: str = DEFAULT_DETACH_KEYS,
    tty: bool = False,
) -> str:
    """Stream the container's stdio until it exits ("exited") or the user detaches ("detached")."""
    keys = parse_detach_keys(detach_keys)
    sock = connect_attach_socket(bundle)
    stdin_fd = _fileno(stdin) if stdin is not None else None
    restore_tty = None
    old_winch = None
    try:
        if stdin_fd is not None and os.isatty(stdin_fd):
            restore_tty = _make_raw(stdin_fd)
        if tty:
            old_winch = _watch_resize(bundle, stdin_fd, stdout)
        if stdin is not None and stdin_fd is None:
            return _attach_with_thread(sock, stdin, stdout, stderr, keys)
        return _attach_loop(sock, stdin_fd, stdout, stderr, keys)
    finally:
        if restore_tty is not None:
            restore_tty()
        if old_winch is not None:
            import signal

            try:
                signal.signal(signal.SIGWINCH, old_winch)
            except ValueError:
                pass
        sock.close()


def _deliver(packet: bytes, stdout: BinaryIO | None, stderr: BinaryIO | None) -> None:
    if not packet:
        return
    stream, payload = packet[0], packet[1:]
    if stream == STDOUT:
        _write(stdout, payload)
    elif stream == STDERR:
        _write(stderr, payload)


def _attach_loop(
    sock: "socket.socket",
    stdin_fd: int | None,
    stdout: BinaryIO | None,
    stderr: BinaryIO | None,
    keys: bytes,
) -> str:
    matcher = _DetachMatcher(keys)
    watching = [sock.fileno()] + ([stdin_fd] if stdin_fd is not None else [])
    while True:
        ready, _, _ = select.select(watching, [], [])
        if sock.fileno() in ready:
            packet = sock.recv(PACKET_SIZE)
            if not packet:
                return "exited"
            _deliver(packet, stdout, stderr)
        if stdin_fd is not None and stdin_fd in ready:
            data = os.read(stdin_fd, 8192)
            if not data:
                watching.remove(stdin_fd)
                stdin_fd = None
                _send_eof(sock)
                continue
            forward, detached = matcher.feed(data)
            if forward:
                _send(sock, forward)
            if detached:
                return "detached"


def _attach_with_thread(
    sock: "socket.socket",
    stdin: BinaryIO,
    stdout: BinaryIO | None,
    stderr: BinaryIO | None,
    keys: bytes,
) -> str:
    """For a stdin without a file descriptor (BytesIO...): a thread feeds it."""
    import threading

    matcher = _DetachMatcher(keys)
    detached = threading.Event()
    wake_r, wake_w = os.pipe2(os.O_CLOEXEC)

    def feed() -> None:
        try:
            while True:
                data = stdin.read(8192)
                if not data:
                    _send_eof(sock)
                    return
                forward, done = matcher.feed(data)
                if forward:
                    _send(sock, forward)
                if done:
                    detached.set()
                    return
        finally:
            os.write(wake_w, b"x")

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    try:
        while True:
            ready, _, _ = select.select([sock.fileno(), wake_r], [], [])
            if detached.is_set():
                return "detached"
            if sock.fileno() in ready:
                packet = sock.recv(PACKET_SIZE)
                if not packet:
                    return "exited"
                _deliver(packet, stdout, stderr)
            if wake_r in ready and not detached.is_set():
                os.read(wake_r, 1)
    finally:
        thread.join(timeout=5)
        os.close(wake_r)
        os.close(wake_w)


def _send(sock: "socket.socket", data: bytes) -> None:
    try:
        for i in range(0, len(data), PACKET_SIZE - 1):
            sock.send(data[i : i + PACKET_SIZE - 1])
    except OSError:
        pass  # the container closed its stdin


def _send_eof(sock: "socket.socket") -> None:
    try:
        sock.shutdown(_socket.SHUT_WR)
    except OSError:
        pass


def _make_raw(fd: int):  # type: ignore[no-untyped-def]
    import termios
    import tty as ttymod

    saved = termios.tcgetattr(fd)
    ttymod.setraw(fd, termios.TCSANOW)  # TCSAFLUSH (the default) would drop typed-ahead input

    def restore() -> None:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    return restore


def _watch_resize(bundle: str, stdin_fd: int | None, stdout: BinaryIO | None):  # type: ignore[no-untyped-def]
    """Send the terminal size now and on every SIGWINCH; return the previous handler."""
    import signal

    term_fd = None
    for fd in (stdin_fd, _fileno(stdout)):
        if fd is not None and os.isatty(fd):
            term_fd = fd
            break
    if term_fd is None:
        return None

    def send(*_args: object) -> None:
        try:
            size = os.get_terminal_size(term_fd)
        except OSError:
            return
        resize(bundle, size.lines, size.columns)

    send()
    try:
        return signal.signal(signal.SIGWINCH, send)
    except ValueError:  # not the main thread
        return None
