"""Validate an XML file against its XSD as a stream, memory flat; in a second process if it is big.

`ValidatingWriter` is the file being written: a big file (the monthly CGPEM
stock) is checked by this script, run as a second process and fed the same
bytes as they are written, so that the check runs on the second core and the
file is checked by the time it is complete, instead of being read again
afterwards (the longest part of a 150 000-decision export: docs/performance.md,
"CGPEM"). A thread would not do: lxml keeps the GIL while it parses fed data.

    python exchanges/xsd_stream.py SCHEMA.xsd ROOT_TAG RECORD_TAG < FILE.xml

Exit status 0: valid. Exit status 3: invalid, and the one line written on
stdout names the faulty element only: lxml's message quotes the value, which
may be personal data. The script imports lxml only (no Django), so that it
starts fast.
"""

from __future__ import annotations

import contextlib
import functools
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lxml import etree

# Below this size (about 10 000 CGPEM records) the file is checked once written, in-process:
# starting a second process would cost more than it saves.
SECOND_PROCESS_FROM = 4 << 20
INVALID = 3  # the script's exit status for "not valid" (1 is any uncaught error)


@functools.cache
def parse_schema(path: str) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.parse(path, parser))


def validate(source: str | BinaryIO, schema: etree.XMLSchema, root_tag: str, record_tag: str) -> None:
    """Raise etree.XMLSyntaxError at the first fault (malformed or not valid against `schema`)."""
    ended = False
    # Events for records only (the other elements are validated all the same),
    # each record dropped once seen: memory stays flat whatever the size.
    for _event, element in etree.iterparse(
        source,
        events=("end",),
        tag=(record_tag, root_tag),
        schema=schema,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
    ):
        if element.tag == root_tag and element.getparent() is None:
            ended = True
            continue
        element.clear(keep_tail=True)
        while element.getprevious() is not None:
            del element.getparent()[0]
    # With resolve_entities=False, lxml 6 ends a truncated document without an error: the
    # root's end tag is the proof that the whole document was read.
    if not ended:
        raise etree.XMLSyntaxError(f"Element '{root_tag}': premature end of data", None, 0, 0)


def faulty_element(error: etree.XMLSyntaxError) -> str | None:
    """The element lxml's message names, without the value it quotes."""
    found = re.search(r"Element '([A-Za-z_][\w.-]*)'", str(error))
    return found.group(1) if found else None


@dataclass(frozen=True)
class Verdict:
    valid: bool
    element: str | None = None  # the faulty element, when known


class ValidatingWriter:
    """A binary file being written (`handle`, at `path`) and its check against `schema_path`.

    Write to it as to the file; then `verdict()` tells whether the bytes
    written form a document valid against the schema. From
    SECOND_PROCESS_FROM bytes on, a second process checks them as they come;
    if it cannot start or stops without a verdict (killed, crashed), the file
    is checked in this process instead: the verdict is never a guess.
    """

    def __init__(self, handle: BinaryIO, path: Path, schema_path: Path, root_tag: str, record_tag: str):
        self.handle, self.path = handle, path
        self.schema_path, self.root_tag, self.record_tag = str(schema_path), root_tag, record_tag
        self.written = 0
        self.process: subprocess.Popen | None = None
        self.feeding = False

    def write(self, data: bytes) -> int:
        self.handle.write(data)
        self.written += len(data)
        if self.feeding:
            self._feed(data)
        elif self.process is None and self.written >= SECOND_PROCESS_FROM:
            self._start()
        return len(data)

    def _start(self) -> None:
        try:
            self.process = subprocess.Popen(
                # -I: nothing from the environment, and not the script's directory on sys.path.
                [sys.executable, "-I", __file__, self.schema_path, self.root_tag, self.record_tag],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                # Its own errors only (its verdict goes to stdout): lxml's messages, which quote
                # values, never reach it.
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            return  # checked in-process at the end
        self.feeding = True
        # What is already written, read back once (a few MiB), then the rest as it comes.
        self.handle.flush()
        with open(self.path, "rb") as written:
            for chunk in iter(lambda: written.read(1 << 20), b""):
                self._feed(chunk)

    def _feed(self, data: bytes) -> None:
        try:
            self.process.stdin.write(data)
        except (BrokenPipeError, ValueError):
            self.feeding = False  # it stopped early: at a fault, or it died (the verdict tells)

    def verdict(self) -> Verdict:
        """Call once the whole file is written (and before it is trusted)."""
        self.handle.flush()
        if self.process is not None:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
            output = self.process.stdout.read()
            status = self.process.wait()
            self.process.stdout.close()
            self.process = None
            if status == 0 and self.feeding:
                return Verdict(True)
            if status == INVALID:
                return Verdict(False, output.decode("ascii", "replace").strip() or None)
            # No verdict from the second process: the file decides.
        try:
            validate(str(self.path), parse_schema(self.schema_path), self.root_tag, self.record_tag)
        except etree.XMLSyntaxError as error:
            return Verdict(False, faulty_element(error))
        return Verdict(True)

    def close(self) -> None:
        """Stop the second process if it still runs (the export failed)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            for pipe in (self.process.stdin, self.process.stdout):
                with contextlib.suppress(BrokenPipeError):
                    pipe.close()
            self.process = None


def main(argv: list[str]) -> int:
    schema_path, root_tag, record_tag = argv
    schema = parse_schema(schema_path)
    try:
        validate(sys.stdin.buffer, schema, root_tag, record_tag)
    except etree.XMLSyntaxError as error:
        print(faulty_element(error) or "", flush=True)
        return INVALID
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
