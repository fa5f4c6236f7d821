"""The Modbus TCP PLC link against the simulator's real pymodbus server on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.pdu import ExceptionResponse
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from drivers.base import SignalDriver
from drivers.errors import Disconnected, DriverTimeout, TagError
from drivers.memory import SignalImage
from drivers.modbus_plc import ModbusDriver
from drivers.signals import Signal, SignalValue
from simulator.net import LOOPBACK, free_port
from simulator.plc_modbus import PlcModbusServer

TIMEOUT_S = 0.3
VERDICT = (Signal.RESULT_ID, Signal.RESULT_CODE, Signal.RESULT_COUNT)


@pytest_asyncio.fixture
async def served() -> AsyncIterator[PlcModbusServer]:
    """A simulated PLC's Modbus server (unit id 1) on a free loopback port."""
    server = PlcModbusServer(SignalImage(), port=free_port())
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture
async def driver(served: PlcModbusServer) -> AsyncIterator[ModbusDriver]:
    """A driver connected to `served`."""
    link = ModbusDriver(LOOPBACK, port=served.port, timeout_s=TIMEOUT_S)
    await link.connect()
    yield link
    await link.close()


class TestModbusDriver:
    """Reads, writes and faults of the Modbus TCP link."""

    async def test_is_a_signal_driver(self, driver: ModbusDriver) -> None:
        """The driver satisfies the protocol the runner uses."""
        link: SignalDriver = driver
        assert (await link.read_inputs()).trigger_count == 0

    async def test_reads_what_the_plc_pushed(self, served: PlcModbusServer, driver: ModbusDriver) -> None:
        """PLC inputs pushed by the PLC arrive as one typed snapshot."""
        served.image.set(Signal.TRIGGER_COUNT, 7)
        served.image.set(Signal.TRIGGER_ID, 4_000_000_000)
        served.image.set(Signal.BATCH_LOT, "LOT-Ä1")
        served.image.set(Signal.BATCH_EXPIRY, "261200")
        await served.push()
        inputs = await driver.read_inputs()
        assert (inputs.trigger_count, inputs.trigger_id) == (7, 4_000_000_000)
        assert (inputs.batch_lot, inputs.batch_expiry) == ("LOT-Ä1", "261200")

    async def test_writes_reach_the_plc_image(self, served: PlcModbusServer, driver: ModbusDriver) -> None:
        """Node outputs written in one request land in the PLC's image on the next pull."""
        await driver.write_outputs(
            {Signal.RESULT_ID: 12, Signal.RESULT_CODE: 3, Signal.RESULT_REASONS: 4, Signal.RESULT_COUNT: 1}
        )
        await driver.write_outputs({Signal.ALARM_ACTIVE: True})
        served.pull()
        image = served.image
        assert [image.get(s) for s in VERDICT] == [12, 3, 1]
        assert image.get(Signal.ALARM_ACTIVE) is True

    async def test_span_write_keeps_outputs_it_was_not_given(
        self, served: PlcModbusServer, driver: ModbusDriver
    ) -> None:
        """Heartbeat and strobe in one write span the block; the outputs between keep their values."""
        await driver.write_outputs({Signal.RECIPE_ACK: 5, Signal.ACTIVE_RECIPE: 2})
        await driver.write_outputs({Signal.NODE_HEARTBEAT: 9, Signal.RESULT_COUNT: 3})
        served.pull()
        image = served.image
        assert (image.get(Signal.RECIPE_ACK), image.get(Signal.ACTIVE_RECIPE)) == (5, 2)
        assert (image.get(Signal.NODE_HEARTBEAT), image.get(Signal.RESULT_COUNT)) == (9, 3)

    async def test_outputs_left_by_an_earlier_session_are_kept(self, served: PlcModbusServer) -> None:
        """A new session starts from what the PLC holds, not from zeros."""
        first = ModbusDriver(LOOPBACK, port=served.port)
        await first.connect()
        await first.write_outputs({Signal.RECIPE_ACK: 8})
        await first.close()
        second = ModbusDriver(LOOPBACK, port=served.port)
        await second.connect()
        await second.write_outputs({Signal.NODE_HEARTBEAT: 1, Signal.ALARM_RESET_ACK: 1})
        await second.close()
        served.pull()
        assert served.image.get(Signal.RECIPE_ACK) == 8

    async def test_pull_never_sees_half_a_verdict(
        self, served: PlcModbusServer, driver: ModbusDriver
    ) -> None:
        """A scan pulling between the node's writes always finds id, code and strobe of one verdict."""
        seen: list[list[SignalValue]] = []
        done = asyncio.Event()

        async def scan() -> None:
            while not done.is_set():
                served.pull()
                seen.append([served.image.get(s) for s in VERDICT])
                await asyncio.sleep(0)

        scanning = asyncio.create_task(scan())
        for n in range(1, 101):
            await driver.write_outputs(
                {
                    Signal.RESULT_ID: n * 1000,
                    Signal.RESULT_CODE: n % 7,
                    Signal.RESULT_REASONS: 0,
                    Signal.RESULT_COUNT: n,
                }
            )
        done.set()
        await scanning
        assert all(rid == int(count) * 1000 and code == int(count) % 7 for rid, code, count in seen)
        assert seen[-1][2] == 100

    async def test_word_order_is_applied(self, served: PlcModbusServer) -> None:
        """A little-endian link reads the big-endian PLC's words swapped: the parameter reaches the codec."""
        served.image.set(Signal.TRIGGER_COUNT, 0x00010002)
        await served.push()
        link = ModbusDriver(LOOPBACK, port=served.port, word_order="little")
        await link.connect()
        try:
            assert (await link.read_inputs()).trigger_count == 0x00020001
        finally:
            await link.close()

    async def test_plc_inputs_are_not_writable(self, driver: ModbusDriver) -> None:
        """The node cannot write a signal the PLC owns, and nothing goes out."""
        with pytest.raises(TagError, match="TriggerCount"):
            await driver.write_outputs({Signal.TRIGGER_COUNT: 1})

    async def test_wrong_unit_id_is_a_tag_error(self, served: PlcModbusServer) -> None:
        """Connecting to a unit id the PLC does not answer to names the unit id."""
        link = ModbusDriver(LOOPBACK, port=served.port, unit_id=7, timeout_s=TIMEOUT_S)
        with pytest.raises(TagError, match="unit id 7"):
            await link.connect()
        with pytest.raises(Disconnected):
            await link.read_inputs()

    async def test_short_register_map_is_a_tag_error(self) -> None:
        """A PLC mapping fewer registers than the input block is refused at connect, naming them."""
        port = free_port()
        short = SimDevice(1, simdata=[SimData(0, count=20, datatype=DataType.REGISTERS)])
        server = ModbusTcpServer([short], address=(LOOPBACK, port))
        await server.serve_forever(background=True)
        try:
            link = ModbusDriver(LOOPBACK, port=port, timeout_s=TIMEOUT_S)
            refused = r"holding registers 0\.\.27: Modbus exception 2 \(illegal data address\)"
            with pytest.raises(TagError, match=refused):
                await link.connect()
        finally:
            await server.shutdown()  # type: ignore[no-untyped-call]

    async def test_server_down_is_disconnected_within_the_timeout(self) -> None:
        """No server on the port means Disconnected, well within the timeout."""
        link = ModbusDriver(LOOPBACK, port=free_port(), timeout_s=TIMEOUT_S)
        t0 = time.monotonic()
        with pytest.raises(Disconnected, match="cannot connect"):
            await link.connect()
        assert time.monotonic() - t0 < TIMEOUT_S

    async def test_silent_server_is_a_timeout(self) -> None:
        """A peer that accepts the connection but never answers gives DriverTimeout after timeout_s."""

        # A bare protocol accepts the connection and ignores every byte.
        silent = await asyncio.get_running_loop().create_server(asyncio.Protocol, LOOPBACK, 0)
        port = silent.sockets[0].getsockname()[1]
        try:
            link = ModbusDriver(LOOPBACK, port=port, timeout_s=TIMEOUT_S)
            t0 = time.monotonic()
            with pytest.raises(DriverTimeout, match=rf"no answer within {TIMEOUT_S} s"):
                await link.connect()
            assert TIMEOUT_S <= time.monotonic() - t0 < 3 * TIMEOUT_S
        finally:
            silent.close()
            await silent.wait_closed()

    async def test_server_stopped_mid_session_then_restarted(self) -> None:
        """A server gone makes the next read Disconnected; after a restart on the same port, connect works."""
        server = PlcModbusServer(SignalImage(), port=free_port())
        await server.start()
        link = ModbusDriver(LOOPBACK, port=server.port, timeout_s=TIMEOUT_S)
        await link.connect()
        await server.stop()
        t0 = time.monotonic()
        with pytest.raises(Disconnected):
            for _ in range(5):  # the close may reach the client only after a read went out
                await link.read_inputs()
                await asyncio.sleep(0.01)
        assert time.monotonic() - t0 < TIMEOUT_S
        with pytest.raises(Disconnected, match="not connected"):
            await link.write_outputs({Signal.NODE_HEARTBEAT: 1})
        server.image.set(Signal.TRIGGER_COUNT, 42)
        await server.start()
        try:
            await link.connect()
            assert (await link.read_inputs()).trigger_count == 42
        finally:
            await link.close()
            await server.stop()


class TestPlcModbusServer:
    """The simulated PLC's side of the map, seen by a plain pymodbus client."""

    def test_url_names_host_port_and_unit(self) -> None:
        """The url carries everything the node's PLC settings need."""
        assert PlcModbusServer(SignalImage(), port=1502, unit_id=3).url == "modbus://127.0.0.1:1502?unit=3"

    def test_refuses_non_loopback(self) -> None:
        """The simulator never listens beyond loopback."""
        with pytest.raises(ValueError, match="loopback"):
            PlcModbusServer(SignalImage(), host="0.0.0.0")

    async def test_refuses_what_a_plc_would(self, served: PlcModbusServer) -> None:
        """Writing inputs, the unmapped gap, input registers and a Bool of 2 are Modbus exceptions."""
        client = AsyncModbusTcpClient(
            LOOPBACK, port=served.port, timeout=TIMEOUT_S, retries=0, reconnect_delay=0
        )
        await client.connect()
        try:
            refusals = [
                await client.write_registers(0, [1], device_id=1),
                await client.read_holding_registers(28, count=1, device_id=1),
                await client.read_input_registers(0, count=1, device_id=1),
                await client.write_registers(103, [2], device_id=1),
            ]
        finally:
            client.close()
        assert [r.exception_code for r in refusals if isinstance(r, ExceptionResponse)] == [2, 2, 1, 3]
        served.pull()
        assert served.image.get(Signal.ALARM_ACTIVE) is False

    async def test_push_publishes_only_on_change(self, served: PlcModbusServer, driver: ModbusDriver) -> None:
        """What the PLC changed in its image is readable after push, not before."""
        served.image.set(Signal.PLC_HEARTBEAT, 5)
        assert (await driver.read_inputs()).plc_heartbeat == 0
        await served.push()
        assert (await driver.read_inputs()).plc_heartbeat == 5
