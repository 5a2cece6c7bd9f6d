"""The WSMan (MS-WSMV) SOAP layer: envelopes, actions, faults, size limits.

Operations pypsrp sends for PowerShell: Create (shell with ``creationXml``),
Receive, Command (first CreatePipeline fragment in ``Arguments``), Send
(stdin), Signal (terminate / ctrl_c), Delete, and Get (``is_alive``). Every
response carries ``wsa:RelatesTo`` = the request's MessageID, which pypsrp
checks; Receive returns base64 PSRP fragments sized to the request's
``MaxEnvelopeSize``; faults are HTTP 500 with an ``s:Fault``/``WSManFault``
body that pypsrp turns into ``WSManFaultError``.

Envelope sizes are enforced as WinRM enforces them (``MaxEnvelopeSizekb``,
500 by default, reported by ``Get`` on the config resource): a request body
larger than that is refused with HTTP 413 before it is parsed (the WinRM
client calls it "the request size exceeded the configured MaxEnvelopeSize
quota"); a request's ``wsman:MaxEnvelopeSize`` above the setting is lowered
to it, below 8,192 bytes it is an ``EncodingLimit`` fault; no response is
ever larger than the request's MaxEnvelopeSize ("The computed response
packet size (N) exceeds the maximum envelope size that is allowed (M)").
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field

from toolkit.mocks.exchange.cmdlets import Engine
from toolkit.mocks.exchange.psrp import FRAGMENT_SIZE, Shell

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
    "cfg": "http://schemas.microsoft.com/wbem/wsman/1/config",
    "pwsh": "http://schemas.microsoft.com/powershell",
}
log = logging.getLogger(__name__)
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)

_SHELL_ACTIONS = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
_TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
_DONE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"
_RUNNING = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running"
_SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
_CONFIG_URI = "http://schemas.microsoft.com/wbem/wsman/1/config"

# WSMan fault codes (winerror.h values as pypsrp reports them)
TIMED_OUT = 2150858793
SHELL_NOT_FOUND = 2150858843
BAD_RESOURCE = 2150858770
BAD_ACTION = 2150858753
BAD_REQUEST = 2150858752
ENCODING_LIMIT = 2150858817  # the code pypsrp shows for a wsman:EncodingLimit fault here
MIN_ENVELOPE = 8192


class Fault(Exception):
    """A WSMan fault: HTTP 500 with ``s:Fault``."""

    def __init__(self, code: int, reason: str, subcode: str = "w:InternalError") -> None:
        super().__init__(reason)
        self.code, self.reason, self.subcode = code, reason, subcode


@dataclass
class Request:
    action: str
    message_id: str
    resource_uri: str
    to: str
    selectors: dict[str, str]
    max_envelope: int
    timeout: float
    body: ET.Element | None


def _q(tag: str) -> str:
    prefix, _, name = tag.partition(":")
    return f"{{{NS[prefix]}}}{name}"


def _duration(text: str | None, default: float = 20.0) -> float:
    m = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?", (text or "").strip())
    if not m or not any(m.groups()):
        return default
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return h * 3600 + mi * 60 + s


def parse(data: bytes) -> Request:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise Fault(BAD_REQUEST, f"The WS-Management service cannot process the request: "
                    f"malformed XML ({exc}).", "w:InvalidMessageInformationHeader") from None
    header = root.find("s:Header", NS)
    if header is None:
        raise Fault(BAD_REQUEST, "The request has no SOAP header.")

    def text(path: str) -> str:
        el = header.find(path, NS)
        return (el.text or "").strip() if el is not None else ""

    selectors = {s.get("Name", ""): (s.text or "")
                 for s in header.findall("w:SelectorSet/w:Selector", NS)}
    size = text("w:MaxEnvelopeSize")
    body = root.find("s:Body", NS)
    return Request(
        action=text("a:Action"), message_id=text("a:MessageID"),
        resource_uri=text("w:ResourceURI"), to=text("a:To"), selectors=selectors,
        max_envelope=int(size) if size.isdigit() else 153600,
        timeout=_duration(text("w:OperationTimeout")),
        body=body[0] if body is not None and len(body) else None,
    )


def envelope(action: str, relates_to: str, *body: ET.Element) -> bytes:
    root = ET.Element(_q("s:Envelope"))
    header = ET.SubElement(root, _q("s:Header"))
    ET.SubElement(header, _q("a:Action")).text = action
    ET.SubElement(header, _q("a:MessageID")).text = f"uuid:{str(uuid.uuid4()).upper()}"
    ET.SubElement(header, _q("a:To")).text = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
    ET.SubElement(header, _q("a:RelatesTo")).text = relates_to
    body_el = ET.SubElement(root, _q("s:Body"))
    body_el.extend(body)
    return ET.tostring(root, encoding="utf-8", xml_declaration=False)


def fault_envelope(fault: Fault, relates_to: str, machine: str) -> bytes:
    f = ET.Element(_q("s:Fault"))
    code = ET.SubElement(f, _q("s:Code"))
    ET.SubElement(code, _q("s:Value")).text = "s:Receiver"
    sub = ET.SubElement(code, _q("s:Subcode"))
    ET.SubElement(sub, _q("s:Value")).text = fault.subcode
    reason = ET.SubElement(f, _q("s:Reason"))
    ET.SubElement(reason, _q("s:Text"), {"{http://www.w3.org/XML/1998/namespace}lang": "en-US"}
                  ).text = fault.reason
    detail = ET.SubElement(f, _q("s:Detail"))
    wsman_fault = ET.SubElement(detail, _q("f:WSManFault"),
                                {"Code": str(fault.code), "Machine": machine})
    ET.SubElement(wsman_fault, _q("f:Message")).text = fault.reason
    return envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, f)


@dataclass
class WSManService:
    """Shells keyed by ShellId; one lock (a Condition) guards all state.

    A Receive with nothing to return waits on the condition (up to the
    request's OperationTimeout, capped) and then answers with the timeout
    fault a real WinRM sends, which pypsrp treats as "poll again".
    """

    engine_factory: Callable[[], Engine]
    configuration: str = "Microsoft.Exchange"
    machine: str = "EX01"
    max_wait: float = 5.0
    max_envelope_kb: int = 500  # WinRM's MaxEnvelopeSizekb
    shells: dict[str, Shell] = field(default_factory=dict)
    signals: list[tuple[str, str]] = field(default_factory=list)  # (code, command id)
    cond: threading.Condition = field(default_factory=threading.Condition)

    @property
    def max_envelope(self) -> int:
        return self.max_envelope_kb * 1024

    def handle(self, data: bytes, user: str = "") -> tuple[int, bytes]:
        relates = ""
        if len(data) > self.max_envelope:
            return 413, b""  # refused before parsing, as WinRM does
        try:
            request = parse(data)
            relates = request.message_id
            if request.max_envelope < MIN_ENVELOPE:
                raise Fault(ENCODING_LIMIT, "The WS-Management service cannot process the "
                            f"request because the MaxEnvelopeSize ({request.max_envelope}) is "
                            f"less than the minimum ({MIN_ENVELOPE}).", "w:EncodingLimit")
            request.max_envelope = min(request.max_envelope, self.max_envelope)
            with self.cond:
                body = self._dispatch(request, user)
                self.cond.notify_all()
            reply = envelope(request.action + "Response", relates, *body)
            if len(reply) > request.max_envelope:
                raise Fault(ENCODING_LIMIT, "The WS-Management service cannot process the "
                            f"request. The computed response packet size ({len(reply)}) exceeds "
                            "the maximum envelope size that is allowed "
                            f"({request.max_envelope}).", "w:EncodingLimit")
            return 200, reply
        except Fault as fault:
            return 500, fault_envelope(fault, relates, self.machine)
        except Exception as exc:  # a mock bug: answer like a server error, keep serving
            log.exception("mock WSMan request failed")
            fault = Fault(BAD_REQUEST, f"Mock Exchange internal error: {exc}")
            return 500, fault_envelope(fault, relates, self.machine)

    # -- dispatch ----------------------------------------------------------------

    def _shell(self, request: Request) -> Shell:
        shell_id = request.selectors.get("ShellId", "")
        shell = self.shells.get(shell_id.upper())
        if shell is None:
            raise Fault(SHELL_NOT_FOUND, f"The request for the Windows Remote Shell with ShellId "
                        f"{shell_id} failed because the shell was not found on the server. "
                        "Possible causes are: the specified ShellId is incorrect or the shell no "
                        "longer exists on the server. Provide the correct ShellId or create a new "
                        "shell and try again.", "w:InvalidSelectors")
        return shell

    def _check_resource(self, request: Request) -> None:
        wanted = f"http://schemas.microsoft.com/powershell/{self.configuration}"
        if request.resource_uri.lower() != wanted.lower():
            name = request.resource_uri.rsplit("/", 1)[-1]
            raise Fault(BAD_RESOURCE, "The WS-Management service cannot process the request. "
                        f"Cannot find the {name} session configuration in the WSMan: drive on "
                        f"the {self.machine} computer.", "w:InvalidResourceURI")

    def _dispatch(self, request: Request, user: str) -> list[ET.Element]:
        action = request.action
        if action == _TRANSFER + "Create":
            return self._create(request, user)
        if action == _TRANSFER + "Get":
            return self._get(request)
        if action == _TRANSFER + "Delete":
            self._check_resource(request)
            shell = self._shell(request)
            for pid in list(shell.runs):
                shell.terminate(str(pid))
            self.shells.pop(shell.id, None)
            return []
        handler = {
            _SHELL_ACTIONS + "Command": self._command,
            _SHELL_ACTIONS + "Send": self._send,
            _SHELL_ACTIONS + "Receive": self._receive,
            _SHELL_ACTIONS + "Signal": self._signal,
        }.get(action)
        if handler is None:
            raise Fault(BAD_ACTION, f"The WS-Management service does not support the "
                        f"specified action: {action}.", "a:ActionNotSupported")
        self._check_resource(request)
        return handler(request)

    def _create(self, request: Request, user: str) -> list[ET.Element]:
        self._check_resource(request)
        if request.body is None or request.body.tag != _q("rsp:Shell"):
            raise Fault(BAD_REQUEST, "Create needs an rsp:Shell body.")
        creation = request.body.find("pwsh:creationXml", NS)
        if creation is None or not (creation.text or "").strip():
            raise Fault(BAD_REQUEST, "The PowerShell shell needs creationXml.")
        shell_id = (request.body.get("ShellId") or str(uuid.uuid4())).upper()
        budget = (request.max_envelope - 4096) * 3 // 4
        shell = Shell(shell_id, self.engine_factory(), max(1024, min(FRAGMENT_SIZE, budget)))
        shell.feed(base64.b64decode(creation.text or ""))
        self.shells[shell_id] = shell
        created = ET.Element(_q("x:ResourceCreated"))
        ET.SubElement(created, _q("a:Address")).text = request.to or "http://localhost/PowerShell"
        ref = ET.SubElement(created, _q("a:ReferenceParameters"))
        ET.SubElement(ref, _q("w:ResourceURI")).text = request.resource_uri
        sel = ET.SubElement(ref, _q("w:SelectorSet"))
        ET.SubElement(sel, _q("w:Selector"), {"Name": "ShellId"}).text = shell_id
        return [created, self._shell_info(shell, request.resource_uri, user)]

    def _shell_info(self, shell: Shell, resource_uri: str, user: str) -> ET.Element:
        info = ET.Element(_q("rsp:Shell"))
        for name, value in (
            ("ShellId", shell.id), ("ResourceUri", resource_uri), ("Owner", user or "unknown"),
            ("ClientIP", "127.0.0.1"), ("IdleTimeOut", "PT7200.000S"),
            ("InputStreams", "stdin pr"), ("OutputStreams", "stdout"),
            ("ShellRunTime", "P0DT0H0M0S"), ("ShellInactivity", "P0DT0H0M0S"),
            ("State", "Connected"),
        ):
            ET.SubElement(info, _q(f"rsp:{name}")).text = value
        return info

    def _get(self, request: Request) -> list[ET.Element]:
        if request.resource_uri.rstrip("/").lower() == _CONFIG_URI:
            config = ET.Element(_q("cfg:Config"))
            ET.SubElement(config, _q("cfg:MaxEnvelopeSizekb")).text = str(self.max_envelope_kb)
            return [config]
        if request.resource_uri.rstrip("/").lower() != _SHELL_URI:
            self._check_resource(request)
        shell = self._shell(request)
        return [self._shell_info(shell, request.resource_uri, "")]

    def _command(self, request: Request) -> list[ET.Element]:
        shell = self._shell(request)
        line = request.body
        if line is None or line.tag != _q("rsp:CommandLine"):
            raise Fault(BAD_REQUEST, "Command needs an rsp:CommandLine body.")
        command_id = (line.get("CommandId") or str(uuid.uuid4())).upper()
        shell.new_pipeline(command_id)
        for arg in line.findall("rsp:Arguments", NS):
            shell.feed(base64.b64decode(arg.text or ""))
        response = ET.Element(_q("rsp:CommandResponse"))
        ET.SubElement(response, _q("rsp:CommandId")).text = command_id
        return [response]

    def _send(self, request: Request) -> list[ET.Element]:
        shell = self._shell(request)
        if request.body is None:
            raise Fault(BAD_REQUEST, "Send needs an rsp:Send body.")
        for stream in request.body.findall("rsp:Stream", NS):
            if stream.get("Name") == "stdin":  # "pr" carries host responses: none expected
                shell.feed(base64.b64decode(stream.text or ""))
        return [ET.Element(_q("rsp:SendResponse"))]

    def _receive(self, request: Request) -> list[ET.Element]:
        shell = self._shell(request)
        desired = request.body.find("rsp:DesiredStream", NS) if request.body is not None else None
        command_id = desired.get("CommandId") if desired is not None else None
        budget = (request.max_envelope - 4096) * 3 // 4  # base64 and the SOAP around it
        deadline = time.monotonic() + min(request.timeout, self.max_wait)
        while not shell.has_pending(command_id):
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fault(TIMED_OUT, "The WS-Management service cannot complete the operation "
                            "within the time specified in OperationTimeout.", "w:TimedOut")
            self.cond.wait(left)
            if self.shells.get(shell.id) is not shell:
                raise Fault(SHELL_NOT_FOUND, "The shell was closed while receiving.")
        chunks, done = shell.receive(command_id, budget)
        if not chunks and (big := shell.too_big(command_id, budget)):
            raise Fault(ENCODING_LIMIT, "The WS-Management service cannot process the request. "
                        f"The computed response packet size ({big * 4 // 3 + 4096}) exceeds the "
                        f"maximum envelope size that is allowed ({request.max_envelope}).",
                        "w:EncodingLimit")
        response = ET.Element(_q("rsp:ReceiveResponse"))
        if chunks:  # fragments concatenated in one Stream element (MS-PSRP 3.1.5.1.1)
            attrs = {"Name": "stdout"}
            if command_id:
                attrs["CommandId"] = command_id
            ET.SubElement(response, _q("rsp:Stream"), attrs).text = \
                base64.b64encode(b"".join(chunks)).decode()
        if command_id:
            ET.SubElement(response, _q("rsp:CommandState"),
                          {"CommandId": command_id, "State": _DONE if done else _RUNNING})
        return [response]

    def _signal(self, request: Request) -> list[ET.Element]:
        shell = self._shell(request)
        signal = request.body
        if signal is None:
            raise Fault(BAD_REQUEST, "Signal needs an rsp:Signal body.")
        command_id = (signal.get("CommandId") or "").upper()
        code_el = signal.find("rsp:Code", NS)
        code = (code_el.text or "").strip() if code_el is not None else ""
        self.signals.append((code, command_id))
        if code.endswith("ctrl_c"):
            shell.stop(command_id)
        elif code.lower().endswith("terminate"):
            shell.terminate(command_id)
        return [ET.Element(_q("rsp:SignalResponse"))]
