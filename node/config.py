"""Node configuration: one TOML file parsed once at the edge into frozen pydantic models."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlcConfig(_Frozen):
    """The PLC link: one of three protocols carrying the same signal contract."""

    protocol: Literal["opcua", "s7", "modbus"] = "opcua"
    timeout_ms: Annotated[int, Field(ge=50, le=10_000)] = 1000
    # OPC UA
    url: str = "opc.tcp://127.0.0.1:4840"
    namespace_uri: str = "urn:tracenode:plc"
    node_ids: dict[str, str] = Field(default_factory=dict)  # signal name -> node id override
    # Publishing interval of the subscription to the PLC inputs; None polls them every cycle.
    subscribe_ms: Annotated[float, Field(ge=1, le=1000)] | None = 5.0
    # S7 (ISO-on-TCP over the PLC's Profinet port) and Modbus TCP
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] | None = None  # None: 102 for S7, 502 for Modbus
    rack: Annotated[int, Field(ge=0, le=7)] = 0
    slot: Annotated[int, Field(ge=0, le=31)] = 1  # S7-1200/1500: 1; S7-300: 2
    db: Annotated[int, Field(ge=1, le=65535)] = 100
    unit_id: Annotated[int, Field(ge=0, le=255)] = 1
    word_order: Literal["big", "little"] = "big"  # Modbus: order of the two registers of a UInt32


class LineTiming(_Frozen):
    """Line geometry and timing; must match the PLC program."""

    register_length: Annotated[int, Field(ge=1, le=1000)] = 4
    pitch_ms: Annotated[float, Field(gt=1, le=60_000)] = 100.0
    decide_margin_ms: Annotated[float, Field(ge=0, le=10_000)] = 30.0
    ack_timeout_ms: Annotated[float, Field(ge=10, le=60_000)] = 500.0
    heartbeat_timeout_ms: Annotated[float, Field(ge=100, le=60_000)] = 1000.0


class CameraConfig(_Frozen):
    """Where frames come from."""

    source: Literal["shared_memory", "folder"] = "shared_memory"
    ring: str = "tracenode-camera"
    folder: Path | None = None
    capture_timeout_ms: Annotated[float, Field(gt=0, le=10_000)] = 150.0


class Level4Config(_Frozen):
    """The site serialization server."""

    url: str = "opc.tcp://127.0.0.1:4842"
    timeout_ms: Annotated[int, Field(ge=100, le=600_000)] = 5000


class StoreConfig(_Frozen):
    """The serial store."""

    path: Path = Path("/var/lib/tracenode/serials.db")


class ScadaConfig(_Frozen):
    """The OPC UA server for SCADA and Level 4."""

    enabled: bool = True
    endpoint: str = "opc.tcp://127.0.0.1:4841"
    operator_users: tuple[str, ...] | None = None


class NodeConfig(_Frozen):
    """Everything a node needs to run."""

    plc: PlcConfig = PlcConfig()
    line: LineTiming = LineTiming()
    camera: CameraConfig = CameraConfig()
    level4: Level4Config = Level4Config()
    store: StoreConfig = StoreConfig()
    scada: ScadaConfig = ScadaConfig()
    recipes: Path | None = None  # a folder of recipe TOML files; None = the embedded examples
    cycle_ms: Annotated[float, Field(ge=1, le=100)] = 4.0
    vision_workers: Annotated[int, Field(ge=1, le=64)] = 2


class ConfigError(Exception):
    """The configuration file cannot be used; the message names the file, the field and the reason."""


def load_config(path: Path) -> NodeConfig:
    """Read and validate a node configuration file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return NodeConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']} (got {err.get('input')!r})"
            for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from exc
