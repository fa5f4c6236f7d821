"""The simulated PLC's S7 server: the signal image as one data block (drivers/s7_layout.py) behind
python-snap7's S7 server on a loopback port, as an S7-1200/1500 with PUT/GET access allowed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator

from snap7.server import Server
from snap7.type import SrvArea

from drivers.memory import SignalImage
from drivers.s7_layout import (
    DB_SIZE,
    INPUT_AREA,
    OUTPUT_AREA,
    decode_outputs,
    encode_inputs,
    encode_outputs,
)
from drivers.signals import NODE_OUTPUTS, PLC_INPUTS, Signal, SignalValue


class PlcS7Server:
    """Serves a SignalImage as one S7 DB on loopback; `url` is `s7://HOST:PORT?db=N&rack=0&slot=1`.

    The DB's bytes are one bytearray shared with snap7's server, whose threads copy each client
    request in or out under a per-area lock; pull() and push() copy under that same lock, so the
    image sees a node's write (the verdict block with its strobe) whole or not at all, and the
    node reads a push whole or not at all.
    """

    def __init__(
        self, image: SignalImage, *, host: str = "127.0.0.1", port: int = 102, db: int = 100
    ) -> None:
        if not host.startswith("127."):
            raise ValueError(f"host: the simulator serves loopback only, got {host!r}")
        self.image = image
        self.host = host
        self.port = port
        self.db = db
        # The rack and slot are what an S7-1200/1500 answers to; snap7's server accepts any.
        self.url = f"s7://{host}:{port}?db={db}&rack=0&slot=1"
        # snap7 keeps a registered bytearray by reference (it copies any other buffer type), so
        # this is the DB the clients read and write.
        self._block = bytearray(DB_SIZE)
        self._server = _SessionServer()
        self._server.register_area(SrvArea.DB, db, self._block)
        self._pushed: dict[Signal, SignalValue] = {}

    async def start(self) -> None:
        """Load the DB from the image and start listening (again, after a stop)."""
        inputs = {s: self.image.get(s) for s in PLC_INPUTS}
        outputs = encode_outputs({s: self.image.get(s) for s in NODE_OUTPUTS})
        with self._locked():
            self._block[INPUT_AREA.start : INPUT_AREA.end] = encode_inputs(inputs)
            self._block[OUTPUT_AREA.start : OUTPUT_AREA.end] = outputs
        self._pushed = inputs
        self._server.start_to(self.host, self.port)

    async def stop(self) -> None:
        """Stop listening and drop every session, as a PLC that goes down does."""
        self._server.drop_sessions()
        # snap7's stop() joins its threads (up to seconds): keep it off the event loop.
        await asyncio.to_thread(self._server.stop)

    def pull(self) -> None:
        """Copy what the node wrote into the image (a local copy, no I/O)."""
        with self._locked():
            data = bytes(self._block[OUTPUT_AREA.start : OUTPUT_AREA.end])
        self.image.values.update(decode_outputs(data))

    async def push(self) -> None:
        """Publish the PLC's signals to the DB if any changed since the last push."""
        inputs = {s: self.image.get(s) for s in PLC_INPUTS}
        if inputs == self._pushed:
            return
        data = encode_inputs(inputs)
        with self._locked():
            self._block[INPUT_AREA.start : INPUT_AREA.end] = data
        self._pushed = inputs

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # The lock snap7's server holds while it copies a client's read or write of this DB.
        self._server.lock_area(SrvArea.DB, self.db)
        try:
            yield
        finally:
            self._server.unlock_area(SrvArea.DB, self.db)


class _SessionServer(Server):
    """snap7's server, plus dropping the open sessions when the PLC goes down.

    snap7's stop() closes only the listening socket: a connected client's thread waits in recv for
    up to 5 s and then still answers its next request, and stop() waits a second per such thread.
    Shutting the sessions' sockets down first ends them at once; the client sees the connection
    closed, as with a real PLC that stops. `_handle_client` is snap7's per-connection thread body.
    """

    def __init__(self) -> None:
        super().__init__(log=False)
        self._sessions: set[socket.socket] = set()
        self._sessions_lock = threading.Lock()
        self._dropping = False

    def start_to(self, ip: str, tcp_port: int = 102) -> int:
        """Listen on `ip`:`tcp_port` and accept sessions again."""
        with self._sessions_lock:
            self._dropping = False
        return super().start_to(ip, tcp_port)

    def drop_sessions(self) -> None:
        """Close every open session now, and any accepted until the next start."""
        with self._sessions_lock:
            self._dropping = True
            for session in self._sessions:
                _shut(session)

    def _handle_client(self, client_socket: socket.socket, address: tuple[str, int]) -> None:
        with self._sessions_lock:
            self._sessions.add(client_socket)
            if self._dropping:
                _shut(client_socket)
        try:
            super()._handle_client(client_socket, address)
        finally:
            with self._sessions_lock:
                self._sessions.discard(client_socket)


def _shut(session: socket.socket) -> None:
    # The peer may be gone already; the socket's thread closes it.
    with contextlib.suppress(OSError):
        session.shutdown(socket.SHUT_RDWR)
