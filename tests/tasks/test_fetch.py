"""``izbench data fetch`` against a real HTTP server on 127.0.0.1 serving the shared copy."""

from __future__ import annotations

import functools
import hashlib
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from izbench.errors import ConfigError
from izbench.tasks import instruction_induction
from izbench.tasks.registry import TaskRegistry

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "instruction-induction"
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared data not beside the checkout")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A mirror laid out like raw.githubusercontent.com: <owner>/<repo>/<commit>/data/..."""
    info = instruction_induction.manifest()
    root = tmp_path / "mirror"
    data = root / info["repository"] / info["commit"] / "data"
    shutil.copytree(SHARED, data, ignore=shutil.ignore_patterns("induction_input", "*.md"))
    handler = functools.partial(_Quiet, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", data
    server.shutdown()
    server.server_close()


def test_fetch_downloads_and_verifies_everything(mirror: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = mirror
    dest = tmp_path / "ii"
    written = instruction_induction.fetch(dest, url)
    assert len(written) == len(instruction_induction.manifest()["files"]) == 72
    for relative, expected in instruction_induction.manifest()["files"].items():
        assert hashlib.sha256((dest / relative).read_bytes()).hexdigest() == expected
    assert len(TaskRegistry(data_dir=dest).load("ii/sum").induce) == 4950
    assert instruction_induction.fetch(dest, url) == []  # second run: nothing to do


def test_fetch_refuses_a_tampered_file(mirror: tuple[str, Path], tmp_path: Path) -> None:
    url, data = mirror
    tampered = data / "raw" / "execute" / "sum.json"
    tampered.write_text(tampered.read_text().replace('"output": "47"', '"output": "48"', 1))
    dest = tmp_path / "ii"
    with pytest.raises(ConfigError, match=r"raw/execute/sum.json: sha256 .* refusing it"):
        instruction_induction.fetch(dest, url)
    assert not (dest / "raw" / "execute" / "sum.json").exists()


def test_fetch_reports_an_unreachable_mirror(tmp_path: Path) -> None:
    from izbench.models.llamacpp import free_port

    with pytest.raises(ConfigError, match="could not download"):
        instruction_induction.fetch(tmp_path / "x", f"http://127.0.0.1:{free_port()}")
