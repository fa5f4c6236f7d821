"""The OPC UA PLC link against the simulator's real asyncua server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from drivers.errors import Disconnected, TagError
from drivers.memory import SignalImage
from drivers.opcua_plc import OpcUaDriver
from drivers.signals import Signal
from simulator.net import free_port
from simulator.plc_opcua import PlcOpcUaServer

# One server for the module: an asyncua server takes seconds to build its address space.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served() -> AsyncIterator[PlcOpcUaServer]:
    """A simulated PLC's OPC UA server on a free loopback port."""
    server = PlcOpcUaServer(SignalImage(), port=free_port())
    await server.start()
    yield server
    await server.stop()


class TestOpcUaDriver:
    """Reads, writes and faults of the OPC UA link."""

    async def test_reads_what_the_plc_publishes(self, served: PlcOpcUaServer) -> None:
        """PLC inputs pushed by the PLC arrive as one typed snapshot."""
        served.image.set(Signal.TRIGGER_COUNT, 7)
        served.image.set(Signal.TRIGGER_ID, 4_000_000_000)
        served.image.set(Signal.BATCH_LOT, "LOT-Ä1")
        await served.push()
        driver = OpcUaDriver(served.url)
        await driver.connect()
        try:
            inputs = await driver.read_inputs()
        finally:
            await driver.close()
        assert (inputs.trigger_count, inputs.trigger_id, inputs.batch_lot) == (7, 4_000_000_000, "LOT-Ä1")

    async def test_writes_reach_the_plc_image(self, served: PlcOpcUaServer) -> None:
        """Node outputs written in one request land in the PLC's image."""
        driver = OpcUaDriver(served.url)
        await driver.connect()
        try:
            await driver.write_outputs({Signal.RESULT_ID: 12, Signal.RESULT_CODE: 3, Signal.RESULT_COUNT: 1})
            await driver.write_outputs({Signal.ALARM_ACTIVE: True})
        finally:
            await driver.close()
        served.pull()
        assert served.image.get(Signal.RESULT_ID) == 12
        assert served.image.get(Signal.RESULT_CODE) == 3
        assert served.image.get(Signal.ALARM_ACTIVE) is True

    async def test_plc_inputs_are_not_writable(self, served: PlcOpcUaServer) -> None:
        """The node cannot write a signal the PLC owns."""
        driver = OpcUaDriver(served.url)
        await driver.connect()
        try:
            with pytest.raises(TagError, match="TriggerCount"):
                await driver.write_outputs({Signal.TRIGGER_COUNT: 1})
        finally:
            await driver.close()

    async def test_wrong_namespace_is_a_tag_error(self, served: PlcOpcUaServer) -> None:
        """A namespace the PLC does not have is named in the error."""
        driver = OpcUaDriver(served.url, namespace_uri="urn:nowhere")
        with pytest.raises(TagError, match="urn:nowhere"):
            await driver.connect()

    async def test_server_down_is_disconnected(self) -> None:
        """No server on the port means Disconnected, quickly."""
        driver = OpcUaDriver(f"opc.tcp://127.0.0.1:{free_port()}", timeout_s=0.5)
        with pytest.raises(Disconnected):
            await driver.connect()

    async def test_server_stopping_mid_session(self) -> None:
        """A server that goes away turns the next read into Disconnected."""
        server = PlcOpcUaServer(SignalImage(), port=free_port())
        await server.start()
        driver = OpcUaDriver(server.url, timeout_s=0.5)
        await driver.connect()
        await server.stop()
        with pytest.raises((Disconnected, TagError)):
            for _ in range(5):
                await driver.read_inputs()
        await driver.close()


class TestSubscription:
    """The driver subscribes to the PLC inputs instead of polling them."""

    async def test_changes_arrive_without_a_read(self, served: PlcOpcUaServer) -> None:
        """A trigger the PLC publishes shows in the next snapshot, pushed by the server."""
        driver = OpcUaDriver(served.url, subscribe_ms=5)
        await driver.connect()
        try:
            served.image.set(Signal.TRIGGER_ID, 77)
            served.image.set(Signal.TRIGGER_COUNT, 1234)
            served.image.set(Signal.PLC_HEARTBEAT, int(served.image.get(Signal.PLC_HEARTBEAT)) + 1)
            await served.push()
            for _ in range(200):
                inputs = await driver.read_inputs()
                if inputs.trigger_count == 1234:
                    break
                await asyncio.sleep(0.005)
            assert (inputs.trigger_count, inputs.trigger_id) == (1234, 77)
        finally:
            await driver.close()

    async def test_polling_mode(self, served: PlcOpcUaServer) -> None:
        """Without a subscription every snapshot is one Read request."""
        served.image.set(Signal.RECIPE_NUMBER, 9)
        await served.push()
        driver = OpcUaDriver(served.url, subscribe_ms=None)
        await driver.connect()
        try:
            assert (await driver.read_inputs()).recipe_number == 9
        finally:
            await driver.close()

    async def test_silent_subscription_is_a_lost_link(self, served: PlcOpcUaServer) -> None:
        """No change at all (not even the PLC heartbeat) for the timeout means Disconnected."""
        driver = OpcUaDriver(served.url, subscribe_ms=5, timeout_s=0.3)
        await driver.connect()
        try:
            await asyncio.sleep(0.4)
            with pytest.raises(Disconnected, match="no data"):
                await driver.read_inputs()
        finally:
            await driver.close()
