"""`streamlit run dashboard/app.py` for real: a browser-like session gets each page rendered.

AppTest runs scripts in-process; this catches what only the real server does (how it finds the
entry script's pages, sys.path, the session's first run on a deep link such as /machine?...).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.typing import Subprotocol

from plantwatch.cli.components import streamlit_command
from plantwatch.embedded import free_port, wait_for_port
from tests.dashboard.conftest import APP, ApiServer, Seed


@pytest.fixture
def dashboard_url(dashboard_env: Seed, api_server: ApiServer, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "PLANTWATCH_API_URL": api_server.url,
        "PLANTWATCH_API_KEY": dashboard_env.engineer_key,
    }
    command = streamlit_command(Path(APP), "127.0.0.1", port)  # as `plantwatch dashboard` serves it
    log = tmp_path / "streamlit.log"
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        assert wait_for_port(port, 60), log.read_text()
        yield f"ws://127.0.0.1:{port}/_stcore/stream"
    finally:
        server.terminate()
        server.wait(timeout=20)


async def _render(url: str, page: str, query: str) -> list[tuple[str, str]]:
    """(element type, its fields as text) of one full script run of a new session."""
    request = BackMsg()
    request.rerun_script.page_name = page
    request.rerun_script.query_string = query
    elements: list[tuple[str, str]] = []
    async with websockets.connect(url, subprotocols=[Subprotocol("streamlit")], max_size=None) as socket:
        await socket.send(request.SerializeToString())
        while True:
            message = ForwardMsg()
            message.ParseFromString(await asyncio.wait_for(socket.recv(), 30))
            kind = message.WhichOneof("type")
            if kind == "script_finished":
                return elements
            if kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                element = message.delta.new_element
                name = str(element.WhichOneof("type"))
                elements.append((name, str(getattr(element, name))))


def test_the_real_server_renders_both_pages(dashboard_url: str) -> None:
    fleet = asyncio.run(_render(dashboard_url, "", ""))
    machine = asyncio.run(_render(dashboard_url, "machine", "machine=plant-a/press/m1"))

    for elements in (fleet, machine):
        assert not [text for name, text in elements if name in ("exception", "alert")]
    assert ("metric", 'label: "Machines"') in [(n, t.split("\n")[0]) for n, t in fleet]
    assert sum(name == "dataframe" for name, _ in fleet) == 1  # one table for the 3 lines
    assert sum(name == "vega_lite_chart" for name, _ in machine) == 2
    assert any(name == "heading" and 'body: "Machine"' in text for name, text in machine)
