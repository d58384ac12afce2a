"""Real servers on loopback: TLS (optionally behind a STARTTLS dialogue) and hostile ones.

Each server listens on 127.0.0.1 (or ::1) on a free port, accepts on a thread of its own and
serves each connection on another, so a slow client never blocks the next one.

Three TLS stacks serve, because what a client negotiates depends on the server's library:
``TlsServer`` is Python's ``ssl`` on the platform's OpenSSL (3.0 on Debian 12: classical key
exchange only), ``BundledTlsServer`` is pyOpenSSL on the OpenSSL cryptography's wheels bundle
(it negotiates X25519MLKEM768), and ``SServer`` is the platform's own ``openssl s_server``.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Self

from OpenSSL import SSL

from lab.certs import Issued, PrivateKey, der_to_pem, key_to_pem


class LoopbackServer:
    """A listening socket on loopback and an accept loop; subclasses say what a connection gets."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(512)
        self.host = host
        self.port: int = self._listener.getsockname()[1]
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name=f"lab-{type(self).__name__}", daemon=True)
        self.connections = 0

    def target(self, scheme: str = "tls") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(30)
            self.handle(conn)
        except (OSError, ValueError):
            pass  # the client went away or the handshake failed: that is the client's business
        finally:
            conn.close()


def server_context(chain: Sequence[Issued | bytes], key: PrivateKey) -> ssl.SSLContext:
    """A server context serving ``chain`` (leaf first; Issued or raw DER) with ``key``.

    Security level 0 so a 1024-bit key or SHA-1 signature can still be served (to be found).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.set_ciphers("ALL:@SECLEVEL=0")
    with warnings.catch_warnings():  # 3.13 deprecates naming TLS 1.0; legacy servers are the point here
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
    context.num_tickets = 0
    with pem_files(chain, key) as (cert_path, key_path):
        context.load_cert_chain(cert_path, key_path)
    return context


@contextlib.contextmanager
def pem_files(chain: Sequence[Issued | bytes], key: PrivateKey) -> Iterator[tuple[str, str]]:
    """``chain`` (leaf first; Issued or raw DER) and ``key`` as two PEM files, removed afterwards.

    Files, because every TLS library here loads raw DER that cryptography could not parse from them.
    """
    ders = [item.der if isinstance(item, Issued) else item for item in chain]
    with tempfile.TemporaryDirectory(prefix="certwatch-lab-") as directory:
        cert_path = os.path.join(directory, "chain.pem")
        key_path = os.path.join(directory, "key.pem")
        with open(cert_path, "wb") as out:
            out.write(b"".join(der_to_pem(der) for der in ders))
        with open(key_path, "wb") as out:
            out.write(key_to_pem(key))
        yield cert_path, key_path


def bundled_server_context(
    chain: Sequence[Issued | bytes], key: PrivateKey, *, versions: tuple[int, int] = (SSL.TLS1_VERSION, 0)
) -> SSL.Context:
    """A pyOpenSSL server context on the OpenSSL cryptography bundles, serving ``chain`` with ``key``.

    Its key exchange groups are that OpenSSL's defaults (X25519MLKEM768 first); ``versions`` is
    (lowest, highest) as ``SSL.TLS1_VERSION`` … (0: the newest), security level 0 like server_context.
    """
    context = SSL.Context(SSL.TLS_SERVER_METHOD)
    context.set_cipher_list(b"ALL:@SECLEVEL=0")
    context.set_min_proto_version(versions[0])
    context.set_max_proto_version(versions[1])
    context.set_options(SSL.OP_NO_TICKET)
    with pem_files(chain, key) as (cert_path, key_path):
        context.use_certificate_chain_file(cert_path)
        context.use_privatekey_file(key_path)
    return context


class TlsServer(LoopbackServer):
    """Serves a certificate chain over TLS, optionally after a STARTTLS dialogue.

    ``dialogue`` is one of DIALOGUES' names (``smtp``, ``imap``, ``pop3``, ``ftp``,
    ``postgres`` and their ``-refuse`` variants), or None for implicit TLS.
    """

    def __init__(
        self,
        chain: Sequence[Issued | bytes],
        key: PrivateKey | None = None,
        *,
        dialogue: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(host, port)
        self.context = context or server_context(chain, key or _key_of(chain))
        self.dialogue = DIALOGUES[dialogue] if dialogue else None

    def handle(self, conn: socket.socket) -> None:
        if self.dialogue is not None and not self.dialogue(conn):
            return
        with self.context.wrap_socket(conn, server_side=True) as tls:
            tls.settimeout(5)
            with contextlib.suppress(OSError):  # ssl.SSLError is an OSError
                tls.recv(1)  # hold the connection until the client has read what it wanted


class BundledTlsServer(LoopbackServer):
    """Serves a chain over pyOpenSSL on the OpenSSL cryptography bundles (it negotiates X25519MLKEM768).

    ``dialogue`` as for TlsServer; ``versions`` as for bundled_server_context.
    """

    def __init__(
        self,
        chain: Sequence[Issued | bytes],
        key: PrivateKey | None = None,
        *,
        dialogue: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        versions: tuple[int, int] = (SSL.TLS1_VERSION, 0),
    ) -> None:
        super().__init__(host, port)
        self.context = bundled_server_context(chain, key or _key_of(chain), versions=versions)
        self.dialogue = DIALOGUES[dialogue] if dialogue else None

    def handle(self, conn: socket.socket) -> None:
        if self.dialogue is not None and not self.dialogue(conn):
            return
        tls = SSL.Connection(self.context, conn)
        tls.set_accept_state()
        deadline = time.monotonic() + 5
        while True:  # the socket has a timeout, so OpenSSL sees a non-blocking descriptor
            try:
                tls.do_handshake()
                break
            except SSL.WantReadError:
                if not _ready(conn, select.POLLIN, deadline):
                    return
            except SSL.WantWriteError:
                if not _ready(conn, select.POLLOUT, deadline):
                    return
            except SSL.Error:
                return  # the client went away or the handshake failed: that is the client's business
        _ready(conn, select.POLLIN, deadline)  # hold the connection until the client has read what it wanted


def _key_of(chain: Sequence[Issued | bytes]) -> PrivateKey:
    first = chain[0]
    if not isinstance(first, Issued):
        raise ValueError("pass the key when the chain is raw DER")
    return first.key


def _ready(conn: socket.socket, events: int, deadline: float) -> bool:
    poller = select.poll()
    poller.register(conn, events)
    return bool(poller.poll(max(0, int((deadline - time.monotonic()) * 1000))))


class SServer:
    """The platform's ``openssl s_server`` (Debian's OpenSSL 3.0) serving a chain on loopback.

    ``options`` go to s_server as they are (``-tls1``, ``-cipher ALL:@SECLEVEL=0``, …); it serves
    one client at a time. Needs the ``openssl`` command (Debian's ``openssl`` package).
    """

    def __init__(self, chain: Sequence[Issued | bytes], key: PrivateKey | None = None, *options: str) -> None:
        self._chain = chain
        self._key = key or _key_of(chain)
        self._options = options
        self._files = contextlib.ExitStack()
        self._process: subprocess.Popen[str] | None = None
        self._drain: threading.Thread | None = None
        self.host = "127.0.0.1"
        self.port = 0

    def target(self, scheme: str = "tls") -> str:
        return f"{scheme}://{self.host}:{self.port}"

    def start(self) -> Self:
        command = shutil.which("openssl")
        if command is None:
            raise RuntimeError("openssl s_server needs the openssl command: apt-get install -y openssl")
        leaf, *rest = self._chain
        cert_path, key_path = self._files.enter_context(pem_files([leaf], self._key))
        arguments = ["-accept", f"{self.host}:0", "-cert", cert_path, "-key", key_path, "-www"]
        if rest:  # -cert reads one certificate: the others are sent from -cert_chain
            chain_path = os.path.join(os.path.dirname(cert_path), "rest.pem")
            with open(chain_path, "wb") as out:
                out.write(b"".join(der_to_pem(c.der if isinstance(c, Issued) else c) for c in rest))
            arguments += ["-cert_chain", chain_path]
        self._process = subprocess.Popen(
            [command, "s_server", *arguments, *self._options],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self._process.stdout is not None
        for line in self._process.stdout:  # "ACCEPT 127.0.0.1:PORT" once it listens
            if line.startswith("ACCEPT "):
                self.port = int(line.rsplit(":", 1)[1])
                # Whatever it prints next is read and dropped: a full pipe would stop it.
                self._drain = threading.Thread(target=self._process.stdout.read, daemon=True)
                self._drain.start()
                return self
        self.stop()
        raise RuntimeError("openssl s_server did not start")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            if self._drain is not None:
                self._drain.join(timeout=5)  # it reads to the end of the output: the process is gone
            if self._process.stdout is not None:
                self._process.stdout.close()
        self._files.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


class SilentServer(LoopbackServer):
    """Accepts TCP and never says a word."""

    def handle(self, conn: socket.socket) -> None:
        self._stopped.wait(30)


class DripServer(LoopbackServer):
    """Sends one byte at a time, forever, slowly: a TLS record that never completes."""

    interval = 0.05

    def handle(self, conn: socket.socket) -> None:
        conn.recv(4096)
        payload = b"\x16\x03\x03\x40\x00" + b"\x02" * 0x4000
        for byte in payload:
            if self._stopped.wait(self.interval):
                return
            conn.sendall(bytes([byte]))


class GarbageServer(LoopbackServer):
    """Answers a ClientHello with bytes that are no protocol at all."""

    payload = b"HTTP/1.1 400 Bad Request\r\nGarbage: \x00\xff\xfe\x13\x37\r\n\r\n" + os.urandom(512)

    def handle(self, conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(self.payload)
        self._stopped.wait(2)


class ResetServer(LoopbackServer):
    """Accepts, reads the ClientHello and resets the connection (RST, not FIN)."""

    def handle(self, conn: socket.socket) -> None:
        conn.recv(4096)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _read_line(conn: socket.socket) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        chunk = conn.recv(1)
        if not chunk:
            raise ConnectionError("client closed")
        line += chunk
    return line


def _smtp(conn: socket.socket, *, offer: bool = True) -> bool:
    conn.sendall(b"220 lab.test ESMTP certwatch-lab\r\n")
    _read_line(conn)
    extensions = b"250-lab.test\r\n250-PIPELINING\r\n" + (b"250-STARTTLS\r\n" if offer else b"") + b"250 8BITMIME\r\n"
    conn.sendall(extensions)
    _read_line(conn)
    if not offer:
        conn.sendall(b"502 5.5.1 STARTTLS not available\r\n")
        return False
    conn.sendall(b"220 2.0.0 Ready to start TLS\r\n")
    return True


def _imap(conn: socket.socket) -> bool:
    conn.sendall(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] lab ready\r\n")
    tag = _read_line(conn).split(b" ", 1)[0]
    conn.sendall(b"* NOTE untagged lines come first\r\n" + tag + b" OK Begin TLS negotiation now\r\n")
    return True


def _pop3(conn: socket.socket) -> bool:
    conn.sendall(b"+OK lab POP3 ready\r\n")
    _read_line(conn)
    conn.sendall(b"+OK Begin TLS negotiation\r\n")
    return True


def _ftp(conn: socket.socket) -> bool:
    conn.sendall(b"220-lab FTP\r\n220 ready\r\n")
    _read_line(conn)
    conn.sendall(b"234 AUTH TLS successful\r\n")
    return True


def _postgres(conn: socket.socket, *, accept: bool = True) -> bool:
    request = b""
    while len(request) < 8:
        chunk = conn.recv(8 - len(request))
        if not chunk:
            return False
        request += chunk
    conn.sendall(b"S" if accept else b"N")
    return accept


DIALOGUES: dict[str, Callable[[socket.socket], bool]] = {
    "smtp": _smtp,
    "smtp-refuse": lambda conn: _smtp(conn, offer=False),
    "imap": _imap,
    "pop3": _pop3,
    "ftp": _ftp,
    "postgres": _postgres,
    "postgres-refuse": lambda conn: _postgres(conn, accept=False),
}
