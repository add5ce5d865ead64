"""Run one parse in a short-lived child process with OS resource limits.

Why a fresh `python -I` child instead of multiprocessing: the app has threads (no fork),
and a "spawn" child would re-import the app's `__main__` (Reflex, LlamaIndex, torch),
costing seconds per file. This child imports only `app.rag.parsing` and the one parser
library the format needs.

Protocol: the parent writes `<4-byte length><JSON header><file bytes>` to an anonymous temp
file used as the child's stdin; the child answers one JSON object on its original stdout
(also a temp file, so no pipe deadlocks and its size is capped by RLIMIT_FSIZE). The child
applies its own limits before reading the file bytes or importing any parser:
RLIMIT_AS (memory), RLIMIT_CPU (backstop to the parent's wall-clock timeout), RLIMIT_FSIZE
(output size), RLIMIT_CORE=0 (no core dumps holding document text), RLIMIT_NOFILE. The
child gets an empty environment, so a parser exploit cannot read the app's secrets.

The child's answer is untrusted: it is validated before it becomes a ParsedDocument.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import os
import signal
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import IO, Any

from app.rag.parsing import KINDS, MAX_TEXT_CHARS, MB, ParseError, display_name
from app.rag.types import ParsedDocument, Section

log = logging.getLogger(__name__)

DEFAULT_TARGET = "app.rag.parsing:parse_bytes_inprocess"
OUTPUT_LIMIT_BYTES = 4 * MAX_TEXT_CHARS + MB  # JSON of the largest allowed text, with room
_ROOT = Path(__file__).resolve().parents[2]  # the directory that holds the `app` package
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from app.rag.sandbox import child_main; raise SystemExit(child_main())"
)
_LEN_BYTES = 4


def run_in_child(
    data: bytes,
    filename: str,
    *,
    max_bytes: int,
    timeout_s: float,
    memory_mb: int,
    target: str = DEFAULT_TARGET,
) -> ParsedDocument:
    """Call `target(data, filename, max_bytes=...)` in a limited child; map failures to ParseError.

    `target` ("module:function") exists so tests can run a deliberately slow, greedy or
    crashing parser through this exact path.
    """
    name = display_name(filename)
    header = json.dumps(
        {
            "filename": filename,
            "max_bytes": max_bytes,
            "target": target,
            "memory_mb": memory_mb,
            "cpu_s": math.ceil(timeout_s) + 1,
        }
    ).encode()
    with (
        tempfile.TemporaryFile() as stdin,
        tempfile.TemporaryFile() as stdout,
        tempfile.TemporaryFile() as stderr,
    ):
        stdin.write(len(header).to_bytes(_LEN_BYTES, "big") + header)
        stdin.write(data)
        stdin.seek(0)
        returncode = _run(stdin, stdout, stderr, timeout_s, name)
        payload = _read_payload(stdout)
        if payload is None or payload.get("reason") == "crash":
            log.warning(
                "parser child for %s exited %s without an answer: %s",
                name,
                returncode,
                _tail(stderr),
            )
    return _to_document(payload, returncode, name, timeout_s, memory_mb)


def _run(
    stdin: IO[bytes], stdout: IO[bytes], stderr: IO[bytes], timeout_s: float, name: str
) -> int:
    proc = subprocess.Popen(  # noqa: S603 - fixed argv, our own interpreter and module
        [sys.executable, "-I", "-c", _BOOT, str(_ROOT)],
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        env={"PATH": os.defpath, "LC_ALL": "C.UTF-8"},
        close_fds=True,
    )
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise ParseError(f"Parsing {name} took too long (over {timeout_s:g} s).") from None
    finally:
        if proc.poll() is None:  # timeout, or the caller was interrupted: never leak a child
            proc.kill()
            proc.wait()


def _read_payload(stdout: IO[bytes]) -> dict[str, Any] | None:
    size = os.fstat(stdout.fileno()).st_size
    if not size or size > OUTPUT_LIMIT_BYTES:
        return None
    stdout.seek(0)
    try:
        payload = json.loads(stdout.read())
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _tail(stream: IO[bytes], size: int = 2000) -> str:
    stream.seek(max(0, os.fstat(stream.fileno()).st_size - size))
    return stream.read().decode("utf-8", "replace").strip()


def _to_document(
    payload: dict[str, Any] | None, returncode: int, name: str, timeout_s: float, memory_mb: int
) -> ParsedDocument:
    too_much_memory = (
        f"Parsing {name} needs too much memory (over {memory_mb} MB); "
        "the file may be malformed or a decompression bomb."
    )
    if payload is not None:
        if payload.get("ok") is True:
            return _validated(payload, name)
        if payload.get("reason") == "memory":
            raise ParseError(too_much_memory)
        if isinstance(payload.get("error"), str):
            raise ParseError(payload["error"])
    if returncode == -signal.SIGXCPU:
        raise ParseError(f"Parsing {name} took too long (over {timeout_s:g} s of CPU).")
    if returncode == -signal.SIGXFSZ:
        raise ParseError(f"{name} produced too much text.")
    if returncode in (-signal.SIGSEGV, -signal.SIGBUS, -signal.SIGABRT, -signal.SIGKILL):
        # Native code failing an allocation under RLIMIT_AS usually ends like this.
        raise ParseError(
            f"The parser crashed on {name}: the file is malformed or needs too "
            f"much memory (over {memory_mb} MB)."
        )
    raise ParseError(f"{name} could not be parsed (internal parser error).")


def _validated(payload: dict[str, Any], name: str) -> ParsedDocument:
    """Rebuild the document, refusing anything that is not exactly the expected shape."""
    kind, title, raw_sections = payload.get("kind"), payload.get("title"), payload.get("sections")
    ok = (
        kind in KINDS
        and (title is None or isinstance(title, str))
        and isinstance(raw_sections, list)
    )
    sections: list[Section] = []
    for item in raw_sections if ok else []:  # type: ignore[union-attr]
        if not (isinstance(item, list) and len(item) == 3):
            ok = False
            break
        text, page, section = item
        if not (
            isinstance(text, str)
            and (page is None or type(page) is int)
            and (section is None or isinstance(section, str))
        ):
            ok = False
            break
        sections.append(Section(text=text, page=page, section=section))
    if not ok:
        raise ParseError(f"{name} could not be parsed (invalid parser output).")
    return ParsedDocument(kind=kind, sections=sections, title=title)  # type: ignore[arg-type]


# ---- child side -------------------------------------------------------------------------


def child_main() -> int:
    """Entry point of the child process (see _BOOT)."""
    result = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # libraries that print() must not corrupt the answer channel
    stdin = sys.stdin.buffer
    header = json.loads(stdin.read(int.from_bytes(stdin.read(_LEN_BYTES), "big")))
    _limit_self(header["memory_mb"], header["cpu_s"])
    answer = _child_parse(header, stdin.read())
    try:
        body = json.dumps(answer, ensure_ascii=False).encode("utf-8", "replace")
    except MemoryError:
        body = b'{"ok": false, "reason": "memory"}'
    with result:
        result.write(body)
    return 0


def _limit_self(memory_mb: int, cpu_s: int) -> None:
    import resource

    memory = memory_mb * MB
    for limit, value in (
        (resource.RLIMIT_AS, (memory, memory)),
        (resource.RLIMIT_CPU, (cpu_s, cpu_s + 1)),
        (resource.RLIMIT_FSIZE, (OUTPUT_LIMIT_BYTES, OUTPUT_LIMIT_BYTES)),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_NOFILE, (64, 64)),
    ):
        resource.setrlimit(limit, value)


def _child_parse(header: dict[str, Any], data: bytes) -> dict[str, Any]:
    try:
        module_name, _, func_name = header["target"].partition(":")
        parse = getattr(importlib.import_module(module_name), func_name)
        doc: ParsedDocument = parse(data, header["filename"], max_bytes=header["max_bytes"])
        return {
            "ok": True,
            "kind": doc.kind,
            "title": doc.title,
            "sections": [[s.text, s.page, s.section] for s in doc.sections],
        }
    except ParseError as exc:
        return {"ok": False, "error": str(exc)}
    except MemoryError:
        return {"ok": False, "reason": "memory"}
    except RecursionError:
        return {"ok": False, "error": "The file is nested too deeply to parse."}
    except Exception:
        traceback.print_exc()
        return {"ok": False, "reason": "crash"}
