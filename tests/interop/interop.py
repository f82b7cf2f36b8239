"""WebRTC interop: aiortc, an independent WebRTC stack, publishes and receives through
Convene's SFU.

Starts the server binary ($CONVENE_BIN, default target/debug/convene) on loopback with
a fresh data directory, completes first-run setup over the REST API, creates a meeting,
and then:

1. the owner (a signed-in member, the meeting's host) joins over /api/ws;
2. an "early guest" (POST /api/meetings/{code}/guests) joins before anything is
   published, so the publisher's tracks reach it in offers made as they appear;
3. the owner publishes real VP8 video (a synthetic moving picture, encoded by aiortc's
   libvpx encoder; VP8 forced by codec preferences) and Opus audio (a tone) on its
   publish connection (meeting.publish);
4. a "guest" joins while the owner is live;
5. each guest answers the server's meeting.offer on its subscribe connection and must
   decode at least INTEROP_MIN_FRAMES video frames (default 60) and INTEROP_MIN_AUDIO
   audio frames (default 50) within INTEROP_MEDIA_TIMEOUT seconds (default 30).

Every video frame carries its number in a row of black and white blocks; the guests
read it back from the decoded picture, so frozen or foreign video fails the test.
The offer's `tracks` must name the publisher's participant id with `camera` and `mic`,
the media must arrive on the m-lines it names, the server must never have two
subscribe offers in flight, and the host must see the guests join and leave.

Prints one line, `interop: PASS ...` or `interop: FAIL ...`, and on failure what went
wrong and the end of the server log. Exit status 0 on pass, 1 on failure, 2 when the
server cannot be started. INTEROP_VERBOSE=1 prints progress as it goes. The server
log is kept in INTEROP_OUTPUT (default tests/interop/output).

Traffic stays on 127.0.0.1: no STUN server (aiortc would default to a public one) and
only the loopback host candidate (aioice skips 127.0.0.1 by itself).
"""

from __future__ import annotations

import asyncio
import ctypes
import fractions
import json
import math
import os
import re
import shutil
import signal
import struct
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import aioice.ice
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack
from aiortc.rtcicetransport import RTCIceGatherer
from av import AudioFrame, VideoFrame
from websockets.asyncio.client import connect as ws_connect

# --- loopback only ---------------------------------------------------------------------
# aioice leaves 127.0.0.1 out of its host candidates; in a loopback-only sandbox there
# would be none. And with no ICE servers configured aiortc falls back to a public STUN
# server: never here.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
RTCIceGatherer.getDefaultIceServers = classmethod(lambda cls: [])  # type: ignore[method-assign]


def loopback_config() -> RTCConfiguration:
    return RTCConfiguration(iceServers=[])


HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUTPUT = Path(os.environ.get("INTEROP_OUTPUT") or HERE / "output")
MEDIA_TIMEOUT = float(os.environ.get("INTEROP_MEDIA_TIMEOUT", "30"))
MIN_FRAMES = int(os.environ.get("INTEROP_MIN_FRAMES", "60"))
MIN_AUDIO = int(os.environ.get("INTEROP_MIN_AUDIO", "50"))
VERBOSE = os.environ.get("INTEROP_VERBOSE", "") not in ("", "0")
STEP_TIMEOUT = 15.0  # one signalling round trip, a connection coming up, ...

WIDTH, HEIGHT = 320, 240
MARK_BITS, MARK_ROWS = 8, 32  # frame number in 8 blocks of 40x32 pixels, top of the picture

T0 = time.monotonic()


def now() -> float:
    return time.monotonic() - T0


def keep(name: str, text: str) -> None:
    """Keep an SDP (or other text) of this run in OUTPUT, for diagnosis."""
    try:
        (OUTPUT / name).write_text(text)
    except OSError:
        pass


def progress(msg: str) -> None:
    if VERBOSE:
        print(f"interop: [{now():6.2f}s] {msg}", flush=True)


class Failure(Exception):
    """A check failed; the message says which and how."""


class ServerStartError(Exception):
    pass


# --- the server --------------------------------------------------------------------------


def set_pdeathsig() -> None:
    """In the child: die with the parent (a test killed by `timeout -s KILL` leaves no server)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Server:
    def __init__(self) -> None:
        self.bin = os.environ.get("CONVENE_BIN") or str(ROOT / "target" / "debug" / "convene")
        self.data_dir = tempfile.mkdtemp(prefix="convene-interop-")
        OUTPUT.mkdir(parents=True, exist_ok=True)
        for old in OUTPUT.glob("*.sdp"):
            old.unlink()
        self.log_path = OUTPUT / "server.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.stdout_lines: list[str] = []
        self.url = ""
        self.setup_token = ""
        self._drain: asyncio.Task | None = None

    async def start(self) -> None:
        if not os.access(self.bin, os.X_OK):
            raise ServerStartError(
                f"no server binary at {self.bin} (cargo build --bin convene, or set CONVENE_BIN)"
            )
        # CONVENE_* variables are settings: pass none of ours (CONVENE_BIN, a developer's
        # database URL, ...) but CONVENE_LOG, the log filter.
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONVENE_") or k == "CONVENE_LOG"}
        env.update(
            CONVENE_MEDIA_IP="127.0.0.1",
            CONVENE_MEDIA_PORT="0",
            CONVENE_LOG_FORMAT="text",
            NO_COLOR="1",
        )
        self._log_file = open(self.log_path, "wb")
        self.proc = await asyncio.create_subprocess_exec(
            self.bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", self.data_dir,
            env=env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=self._log_file, preexec_fn=set_pdeathsig,
        )
        try:
            await asyncio.wait_for(self._read_banner(), 60)
        except asyncio.TimeoutError:
            raise ServerStartError("the server printed no address and setup link within 60 s") from None
        self._drain = asyncio.create_task(self._drain_stdout())
        if not self.url.startswith("http://127.0.0.1:"):
            raise ServerStartError(f"refusing a non-loopback server address: {self.url}")

    async def _read_banner(self) -> None:
        assert self.proc and self.proc.stdout
        while not (self.url and self.setup_token):
            line = await self.proc.stdout.readline()
            if not line:
                code = await self.proc.wait()
                raise ServerStartError(f"the server exited during start (exit {code})")
            text = line.decode(errors="replace").rstrip("\n")
            self.stdout_lines.append(text)
            if m := re.search(r"listening on (http://127\.0\.0\.1:\d+)", text):
                self.url = m.group(1)
            if m := re.search(r"/setup#token=([A-Za-z0-9_%-]+)", text):
                self.setup_token = urllib.parse.unquote(m.group(1))

    async def _drain_stdout(self) -> None:
        assert self.proc and self.proc.stdout
        while line := await self.proc.stdout.readline():
            self.stdout_lines.append(line.decode(errors="replace").rstrip("\n"))

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def stop(self) -> None:
        if self.proc and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._drain:
            self._drain.cancel()
        if hasattr(self, "_log_file"):
            self._log_file.close()
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write("--- stdout ---\n" + "\n".join(self.stdout_lines) + "\n")
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def panics(self) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        i = text.find("panicked")
        return text[max(0, text.rfind("\n", 0, i)) : i + 600].strip() if i >= 0 else ""


# --- REST ----------------------------------------------------------------------------------

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _call(base: str, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    req = urllib.request.Request(base + path, method=method)
    req.add_header("Accept", "application/json")
    if body is not None:
        req.data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with _opener.open(req, timeout=30) as r:
            raw = r.read()
    except urllib.error.HTTPError as e:
        raise Failure(f"{method} {path} answered {e.code}: {e.read().decode(errors='replace')[:500]}") from None
    except OSError as e:
        raise Failure(f"{method} {path} failed: {e}") from None
    return json.loads(raw) if raw else None


async def api(base: str, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    return await asyncio.to_thread(_call, base, method, path, body, token)


# --- signalling over /api/ws -------------------------------------------------------------


class Signal:
    """One authenticated /api/ws connection: requests by id, events in a log."""

    def __init__(self, label: str, base: str, token: str) -> None:
        self.label = label
        self.url = "ws://" + base.removeprefix("http://") + "/api/ws"
        self.token = token
        self.frames: list[dict] = []  # every frame received, in order
        self.handlers: dict[str, Callable[[dict], None]] = {}
        self._pending: dict[str, asyncio.Future] = {}
        self._changed = asyncio.Condition()
        self._next_id = 0
        self.closed: str | None = None

    async def open(self) -> None:
        self.ws = await ws_connect(self.url, proxy=None, open_timeout=STEP_TIMEOUT,
                                   ping_interval=None, max_size=1 << 20)
        self._reader = asyncio.create_task(self._read())
        await self.request("auth", token=self.token)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "ping" and frame.get("id") is None:
                    await self.ws.send(json.dumps({"type": "pong"}))
                    continue
                self.frames.append(frame)
                if kind in ("ok", "error") and frame.get("id") in self._pending:
                    fut = self._pending.pop(frame["id"])
                    if not fut.done():
                        fut.set_result(frame)
                elif kind in self.handlers:
                    self.handlers[kind](frame)
                async with self._changed:
                    self._changed.notify_all()
        except Exception as e:  # noqa: BLE001 - reported through `closed`
            self.closed = f"{type(e).__name__}: {e}"
        else:
            rcv = getattr(self.ws, "close_rcvd", None)
            self.closed = f"closed by the server ({rcv.code} {rcv.reason})" if rcv else "closed"
        for fut in self._pending.values():
            if not fut.done():
                fut.set_result({"type": "error", "code": "closed", "message": self.closed})
        async with self._changed:
            self._changed.notify_all()

    async def send(self, frame: dict) -> None:
        await self.ws.send(json.dumps(frame))

    async def request(self, kind: str, **fields: Any) -> dict:
        """Send a request; return the `ok` frame, raise Failure on `error` or silence."""
        self._next_id += 1
        rid = str(self._next_id)
        fut = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        await self.send({"type": kind, "id": rid, **fields})
        try:
            reply = await asyncio.wait_for(fut, STEP_TIMEOUT)
        except asyncio.TimeoutError:
            raise Failure(f"{self.label}: no answer to {kind} within {STEP_TIMEOUT:.0f} s") from None
        if reply.get("type") != "ok":
            raise Failure(f"{self.label}: {kind} answered {json.dumps(reply)[:500]}")
        return reply

    async def wait_for(self, what: str, pred: Callable[[dict], bool], timeout: float = STEP_TIMEOUT) -> dict:
        """The first frame received (so far or later) for which `pred` holds."""
        seen = 0

        async def scan() -> dict:
            nonlocal seen
            async with self._changed:
                while True:
                    for frame in self.frames[seen:]:
                        if pred(frame):
                            return frame
                    seen = len(self.frames)
                    if self.closed:
                        raise Failure(f"{self.label}: websocket {self.closed} while waiting for {what}")
                    await self._changed.wait()

        try:
            return await asyncio.wait_for(scan(), timeout)
        except asyncio.TimeoutError:
            kinds = [f.get("type") for f in self.frames[-12:]]
            raise Failure(f"{self.label}: no {what} within {timeout:.0f} s (last frames: {kinds})") from None

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.ws.close(), 3)
        except Exception:  # noqa: BLE001 - best effort
            pass


# --- synthetic media -------------------------------------------------------------------------


class MovingPicture(VideoStreamTrack):
    """320x240 at 30 fps: a diagonal gradient sliding sideways, the frame number on top."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        ramp = bytes((x * 255) // (WIDTH - 1) for x in range(WIDTH))
        self._ramp = ramp + ramp

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        n = self.count
        self.count += 1
        frame = VideoFrame(WIDTH, HEIGHT, "yuv420p")
        y_plane, u_plane, v_plane = frame.planes
        stride = y_plane.line_size
        pad = bytes(stride - WIDTH)
        block = WIDTH // MARK_BITS
        mark = b"".join((b"\xeb" if (n >> (MARK_BITS - 1 - i)) & 1 else b"\x10") * block
                        for i in range(MARK_BITS))
        rows = [mark + pad] * MARK_ROWS
        for y in range(MARK_ROWS, HEIGHT):
            off = (4 * n + y) % WIDTH
            rows.append(self._ramp[off : off + WIDTH] + pad)
        y_plane.update(b"".join(rows))
        for plane, value in ((u_plane, 128 + (n % 64)), (v_plane, 128 - (n % 64))):
            plane.update(bytes([value]) * (plane.line_size * plane.height))
        frame.pts = pts
        frame.time_base = time_base
        return frame


def read_mark(frame: VideoFrame) -> int:
    """The frame number a MovingPicture frame carries, from the decoded picture."""
    plane = frame.planes[0]
    data = bytes(plane)
    stride = plane.line_size
    block = frame.width // MARK_BITS
    row = (MARK_ROWS // 2) * stride
    n = 0
    for i in range(MARK_BITS):
        n = (n << 1) | (1 if data[row + i * block + block // 2] >= 128 else 0)
    return n


class Tone(AudioStreamTrack):
    """A 400 Hz tone, 48 kHz mono, 20 ms frames."""

    RATE, SAMPLES = 48000, 960

    def __init__(self) -> None:
        super().__init__()
        period = 120  # 400 Hz: a whole number of periods in every 960-sample frame
        wave = [int(8000 * math.sin(2 * math.pi * i / period)) for i in range(period)]
        samples = (wave * (self.SAMPLES // period + 1))[: self.SAMPLES]
        self._pcm = struct.pack(f"<{self.SAMPLES}h", *samples)

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if hasattr(self, "_timestamp"):
            self._timestamp += self.SAMPLES
            wait = self._start + self._timestamp / self.RATE - time.time()
            await asyncio.sleep(wait)
        else:
            self._start = time.time()
            self._timestamp = 0
        frame = AudioFrame(format="s16", layout="mono", samples=self.SAMPLES)
        frame.planes[0].update(self._pcm)
        frame.pts = self._timestamp
        frame.sample_rate = self.RATE
        frame.time_base = fractions.Fraction(1, self.RATE)
        return frame


# --- SDP helpers -------------------------------------------------------------------------------


def media_sections(sdp: str) -> list[dict]:
    """Per m-line: kind, mid, payload types in order, rtpmap by PT, direction, port."""
    sections: list[dict] = []
    for line in sdp.splitlines():
        if line.startswith("m="):
            parts = line[2:].split()
            sections.append({"kind": parts[0], "port": parts[1], "pts": parts[3:], "mid": None,
                             "rtpmap": {}, "direction": "sendrecv"})
        elif sections:
            sec = sections[-1]
            if line.startswith("a=mid:"):
                sec["mid"] = line[6:].strip()
            elif line.startswith("a=rtpmap:"):
                pt, codec = line[9:].split(" ", 1)
                sec["rtpmap"][pt] = codec.strip()
            elif line[2:].strip() in ("sendrecv", "sendonly", "recvonly", "inactive"):
                sec["direction"] = line[2:].strip()
    return sections


def first_codec(section: dict) -> str:
    pts = section["pts"]
    return section["rtpmap"].get(pts[0], f"PT {pts[0]}") if pts else "none"


# --- participants --------------------------------------------------------------------------------


@dataclass
class Received:
    video_frames: int = 0
    audio_frames: int = 0
    first_video_at: float | None = None
    min_video_at: float | None = None  # when MIN_FRAMES were reached
    first_audio_at: float | None = None
    sizes: set = field(default_factory=set)
    marks: list = field(default_factory=list)
    video_mids: list = field(default_factory=list)
    audio_mids: list = field(default_factory=list)
    errors: list = field(default_factory=list)


class Subscriber:
    """The subscribe connection: answers every meeting.offer, counts what it decodes."""

    def __init__(self, sig: Signal) -> None:
        self.sig = sig
        self.pc = RTCPeerConnection(loopback_config())
        self.offers: list[dict] = []
        self.answered = 0
        self.sent = 0  # answers sent
        self.overlaps: list[int] = []  # offers that came while an earlier one was unanswered
        self.got = Received()
        self.progress = asyncio.Event()
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task] = []
        self.pc.on("track", self._on_track)
        sig.handlers["meeting.offer"] = self._on_offer

    def _on_offer(self, frame: dict) -> None:
        if self.sent < len(self.offers):  # the server cannot have had our answer yet
            self.overlaps.append(len(self.offers) + 1)
            progress(f"{self.sig.label}: offer #{len(self.offers) + 1} arrived before offer "
                     f"#{len(self.offers)} was answered")
        self.offers.append(frame)
        self._tasks.append(asyncio.create_task(self._answer(frame)))

    async def _answer(self, frame: dict) -> None:
        async with self._lock:  # offers are applied in the order they came
            try:
                n = len(self.offers)
                keep(f"{self.sig.label}-subscribe-offer-{n}.sdp", frame["sdp"])
                await self.pc.setRemoteDescription(RTCSessionDescription(frame["sdp"], "offer"))
                answer = await self.pc.createAnswer()
                await self.pc.setLocalDescription(answer)
                keep(f"{self.sig.label}-subscribe-answer-{n}.sdp", self.pc.localDescription.sdp)
                self.sent += 1
                await self.sig.request("meeting.answer", sdp=self.pc.localDescription.sdp)
                self.answered += 1
                progress(f"{self.sig.label}: answered offer #{len(self.offers)} "
                         f"(tracks {frame.get('tracks')})")
            except Exception as e:  # noqa: BLE001 - reported by the checks
                self.got.errors.append(f"applying meeting.offer #{len(self.offers)}: {type(e).__name__}: {e}")
            self.progress.set()

    def _mid_of(self, track: Any) -> str | None:
        for t in self.pc.getTransceivers():
            if t.receiver.track is track:
                return t.mid
        return None

    def _on_track(self, track: Any) -> None:
        mid = self._mid_of(track)
        progress(f"{self.sig.label}: {track.kind} track on mid {mid}")
        if track.kind == "video":
            self.got.video_mids.append(mid)
            self._tasks.append(asyncio.create_task(self._count_video(track)))
        elif track.kind == "audio":
            self.got.audio_mids.append(mid)
            self._tasks.append(asyncio.create_task(self._count_audio(track)))

    async def _count_video(self, track: Any) -> None:
        got = self.got
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            got.video_frames += 1
            got.first_video_at = got.first_video_at or now()
            if got.video_frames == MIN_FRAMES:
                got.min_video_at = now()
            got.sizes.add((frame.width, frame.height))
            if (frame.width, frame.height) == (WIDTH, HEIGHT):
                got.marks.append(read_mark(frame))
            self.progress.set()

    async def _count_audio(self, track: Any) -> None:
        got = self.got
        while True:
            try:
                await track.recv()
            except MediaStreamError:
                return
            got.audio_frames += 1
            got.first_audio_at = got.first_audio_at or now()
            self.progress.set()

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        await self.pc.close()


def ice_pairs(pc: RTCPeerConnection) -> str:
    """aioice's candidate pairs and their states (private API; diagnostics only)."""
    seen, out = set(), []
    try:
        for t in pc.getTransceivers():
            conn = t.sender.transport.transport._connection
            if id(conn) in seen:
                continue
            seen.add(id(conn))
            for pair in conn._check_list:
                nominating = pair.component in conn._nominating
                out.append(f"{pair.local_addr[0]}:{pair.local_addr[1]} -> "
                           f"{pair.remote_addr[0]}:{pair.remote_addr[1]} {pair.state.name}"
                           f"{', nominated' if pair.nominated else ''}"
                           f"{', USE-CANDIDATE check unanswered' if nominating and not pair.nominated else ''}")
    except Exception:  # noqa: BLE001 - aioice internals may change
        pass
    return "; ".join(out) or "none"


async def wait_connected(pc: RTCPeerConnection, label: str, timeout: float = STEP_TIMEOUT) -> None:
    done = asyncio.Event()

    def check() -> None:
        if pc.connectionState in ("connected", "failed", "closed"):
            done.set()

    pc.on("connectionstatechange", check)
    check()
    try:
        await asyncio.wait_for(done.wait(), timeout)
    except asyncio.TimeoutError:
        raise Failure(f"{label}: connection still {pc.connectionState} (ICE {pc.iceConnectionState}) "
                      f"after {timeout:.0f} s; ICE pairs: {ice_pairs(pc)}") from None
    if pc.connectionState != "connected":
        raise Failure(f"{label}: connection {pc.connectionState} (ICE {pc.iceConnectionState}); "
                      f"ICE pairs: {ice_pairs(pc)}")


async def rtp_stats(pc: RTCPeerConnection, kind: str) -> dict:
    """{"video": packets, "audio": packets} of the `kind` (outbound-rtp, inbound-rtp) streams."""
    out: dict = {}
    try:
        report = await pc.getStats()
    except Exception:  # noqa: BLE001 - diagnostics only
        return out
    for s in report.values():
        if s.type == kind:
            out[s.kind] = s.packetsSent if kind == "outbound-rtp" else s.packetsReceived
    return out


# --- the test ---------------------------------------------------------------------------------------


class Guest:
    """A guest: its websocket and its subscribe connection."""

    def __init__(self, label: str, base: str, code: str) -> None:
        self.label, self.base, self.code = label, base, code
        self.id = ""
        self.started = 0.0  # when media could start flowing to it: join or publish, the later
        self.done_at: float | None = None  # when it had decoded enough
        self.by_source: dict = {}

    async def join(self, host: Signal, pub_id: str | None, closers: list) -> None:
        token = (await api(self.base, "POST", f"/api/meetings/{urllib.parse.quote(self.code)}/guests",
                           {"name": f"aiortc {self.label}"})).get("token")
        if not token:
            raise Failure("POST /api/meetings/{code}/guests returned no token")
        self.sig = Signal(self.label, self.base, token)
        await self.sig.open()
        closers.append(self.sig.close)
        self.sub = Subscriber(self.sig)
        closers.append(self.sub.close)
        self.started = now()
        joined = await self.sig.request("meeting.join", code=self.code)
        if joined.get("status") == "waiting":  # a lobby: the host admits the guest
            progress(f"{self.label} waits in the lobby; the host admits")
            lobby = await host.wait_for("meeting.lobby naming the guest",
                                        lambda f: f.get("type") == "meeting.lobby" and f.get("waiting"))
            await host.request("meeting.host", action="admit", participant_id=lobby["waiting"][0]["id"])
            joined = await self.sig.wait_for("meeting.joined", lambda f: f.get("type") == "meeting.joined")
        elif joined.get("status") != "joined":
            raise Failure(f"{self.label}: meeting.join answered status {joined.get('status')!r}")
        me = joined.get("self") or {}
        self.id = me.get("id") or ""
        if not self.id:
            raise Failure(f"{self.label}: the join answer has no self.id: {json.dumps(joined)[:300]}")
        if me.get("role") != "guest":
            raise Failure(f"{self.label}: joined with role {me.get('role')!r}, expected 'guest'")
        listed = [p.get("id") for p in joined.get("participants") or []]
        if pub_id and pub_id not in listed:
            raise Failure(f"{self.label}: the join answer's participants {listed} do not list the publisher {pub_id}")
        progress(f"{self.label} joined as {self.id}")

    async def check_offer(self, pub_id: str) -> None:
        """The offer carrying the publisher's camera and mic names them on the right m-lines."""

        # Tracks may come in one offer each: wait for the one that names both.
        def names_publisher(f: dict) -> bool:
            sources = {t.get("source") for t in f.get("tracks") or [] if t.get("participant_id") == pub_id}
            return f.get("type") == "meeting.offer" and {"camera", "mic"} <= sources

        try:
            offer = await self.sig.wait_for("meeting.offer with the publisher's camera and mic", names_publisher)
        except Failure:
            offered = [o.get("tracks") for o in self.sub.offers]
            raise Failure(f"{self.label}: no meeting.offer names participant {pub_id} with sources 'camera' "
                          f"and 'mic' within {STEP_TIMEOUT:.0f} s; offers received: {offered}") from None
        self.by_source = {t.get("source"): t for t in offer["tracks"] if t.get("participant_id") == pub_id}
        secs = {s["mid"]: s for s in media_sections(offer["sdp"])}
        for source, kind in (("camera", "video"), ("mic", "audio")):
            mid = self.by_source[source].get("mid")
            sec = secs.get(mid)
            if sec is None or sec["kind"] != kind:
                raise Failure(f"{self.label}: the offer's tracks put the publisher's {source} on mid {mid!r}, "
                              f"but that m-line is {sec and sec['kind']!r}")
        progress(f"{self.label}: offer #{self.sub.offers.index(offer) + 1} names the publisher: {offer['tracks']}")

    def enough(self) -> bool:
        got = self.sub.got
        return got.video_frames >= MIN_FRAMES and got.audio_frames >= MIN_AUDIO

    def check_media(self) -> None:
        got, label = self.sub.got, self.label
        if got.errors:
            raise Failure(f"{label}: " + "; ".join(got.errors))
        if self.sub.overlaps:
            raise Failure(f"{label}: the server sent meeting.offer #{self.sub.overlaps[0]} before it had the "
                          f"answer to the one before (two subscribe offers in flight)")
        pc = self.sub.pc
        if pc.connectionState != "connected":
            raise Failure(f"{label}: subscribe connection is {pc.connectionState} (ICE {pc.iceConnectionState}) "
                          f"after {MEDIA_TIMEOUT:.0f} s; ICE pairs: {ice_pairs(pc)}")
        if not self.enough():
            raise Failure(f"{label} decoded {got.video_frames} video frames (need {MIN_FRAMES}) and "
                          f"{got.audio_frames} audio frames (need {MIN_AUDIO}) in {MEDIA_TIMEOUT:.0f} s")
        if got.sizes != {(WIDTH, HEIGHT)}:
            raise Failure(f"{label}: decoded frame sizes {sorted(got.sizes)}, expected {WIDTH}x{HEIGHT}")
        # The publisher's moving picture, in order: mostly consecutive frame numbers.
        steps = [(b - a) % (1 << MARK_BITS) for a, b in zip(got.marks, got.marks[1:])]
        progress(f"{label}: frame numbers read back {got.marks[0]}..{got.marks[-1]} (mod {1 << MARK_BITS}): "
                 f"{sum(1 for s in steps if s == 1)} of {len(steps)} steps +1, "
                 f"{sum(1 for s in steps if s > 1)} skips, {sum(1 for s in steps if s == 0)} repeats")
        if sum(1 for s in steps if 1 <= s <= 8) < 0.8 * len(steps):
            raise Failure(f"{label}: decoded frames do not show the publisher's picture advancing "
                          f"(frame numbers read back: {got.marks[:40]}...)")
        for source, mids in (("camera", got.video_mids), ("mic", got.audio_mids)):
            if self.by_source[source]["mid"] not in mids:
                raise Failure(f"{label}: {'video' if source == 'camera' else 'audio'} arrived on mids {mids}, "
                              f"the offer put the {source} on mid {self.by_source[source]['mid']}")

    def counts(self) -> str:
        got = self.sub.got if hasattr(self, "sub") else Received()
        sizes = ", ".join(f"{w}x{h}" for w, h in sorted(got.sizes))
        text = (f"{self.label}: video {got.video_frames} frames decoded{f' ({sizes})' if sizes else ''}, "
                f"audio {got.audio_frames} frames")
        if self.done_at is not None and got.first_video_at is not None:
            text += (f" in {self.done_at - self.started:.1f} s "
                     f"(first frame after {got.first_video_at - self.started:.2f} s)")
        return text


async def run(server: Server, summary: dict) -> None:
    """The test; raises Failure. Leaves in `summary` what main() reports and closes."""
    base = server.url
    closers: list = summary.setdefault("_closers", [])  # closed in reverse order
    guests: list = summary.setdefault("_guests", [])
    progress(f"server at {base}")

    # Owner account and workspace (first-run setup), a meeting.
    auth = await api(base, "POST", "/api/setup", {
        "token": server.setup_token, "email": "interop-owner@example.com", "username": "interopowner",
        "display_name": "Interop Owner", "password": "violet-harbor-tangerine-42",
        "workspace_name": "Interop Works"})
    token = auth["access_token"]
    workspaces = await api(base, "GET", "/api/workspaces", token=token)
    if not workspaces:
        raise Failure("GET /api/workspaces: the owner has no workspace after setup")
    ws_id = workspaces[0]["id"]
    meeting = await api(base, "POST", f"/api/workspaces/{urllib.parse.quote(ws_id)}/meetings",
                        {"title": "Interop check"}, token=token)
    code = meeting.get("code")
    if not code:
        raise Failure(f"POST /api/workspaces/{{ws}}/meetings returned no code: {meeting}")
    progress(f"meeting {code}")

    # 1. The member joins.
    host = Signal("publisher", base, token)
    await host.open()
    closers.append(host.close)
    host_sub = Subscriber(host)  # its own subscribe connection answers whatever it is offered
    closers.append(host_sub.close)
    joined = await host.request("meeting.join", code=code)
    if joined.get("status") != "joined":
        raise Failure(f"publisher (the meeting's creator): meeting.join answered status "
                      f"{joined.get('status')!r}, expected 'joined'")
    pub_id = (joined.get("self") or {}).get("id")
    if not pub_id:
        raise Failure(f"publisher: the join answer has no self.id: {json.dumps(joined)[:300]}")
    summary["publisher"] = pub_id

    # 2. A guest joins before anything is published: it gets the tracks by a re-offer.
    early = Guest("early guest", base, code)
    guests.append(early)
    await early.join(host, pub_id, closers)

    # 3. The member publishes camera (VP8) + mic (Opus).
    pub = RTCPeerConnection(loopback_config())
    closers.append(pub.close)
    summary["_pub"] = pub
    picture, tone = MovingPicture(), Tone()
    video_tr = pub.addTransceiver(picture, direction="sendonly")
    vp8 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType.lower() == "video/vp8"]
    video_tr.setCodecPreferences(vp8)
    audio_tr = pub.addTransceiver(tone, direction="sendonly")
    opus = [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType.lower() == "audio/opus"]
    audio_tr.setCodecPreferences(opus)
    await pub.setLocalDescription(await pub.createOffer())
    tracks = [{"mid": video_tr.mid, "source": "camera"}, {"mid": audio_tr.mid, "source": "mic"}]
    keep("publish-offer.sdp", pub.localDescription.sdp)
    early.started = now()
    published = await host.request("meeting.publish", sdp=pub.localDescription.sdp, tracks=tracks)
    if not published.get("sdp"):
        raise Failure(f"publisher: meeting.publish answered without sdp: {json.dumps(published)[:300]}")
    keep("publish-answer.sdp", published["sdp"])
    answer_secs = {s["mid"]: s for s in media_sections(published["sdp"])}
    for mid, want in ((video_tr.mid, "VP8/90000"), (audio_tr.mid, "opus/48000")):
        sec = answer_secs.get(mid)
        if sec is None or sec["port"] == "0":
            raise Failure(f"publisher: the publish answer rejects mid {mid} ({want})")
        if not first_codec(sec).lower().startswith(want.lower()):
            raise Failure(f"publisher: the publish answer picks {first_codec(sec)} on mid {mid}, expected {want}")
        if sec["direction"] != "recvonly":
            raise Failure(f"publisher: the publish answer says {sec['direction']} on mid {mid}, "
                          f"expected recvonly (the offer was sendonly)")
    await pub.setRemoteDescription(RTCSessionDescription(published["sdp"], "answer"))
    t_pub = now()
    await wait_connected(pub, "publisher's publish connection")
    progress(f"publish connection up in {now() - t_pub:.2f} s")

    # 4. A guest joins while the publisher is live: the first offer carries the tracks.
    late = Guest("guest", base, code)
    guests.insert(0, late)
    await late.join(host, pub_id, closers)

    # 5. Both decode the publisher's media.
    for g in (late, early):
        await g.check_offer(pub_id)
    deadline = time.monotonic() + MEDIA_TIMEOUT
    while True:
        for g in guests:
            if g.done_at is None and g.enough():
                g.done_at = now()
        if all(g.done_at is not None for g in guests) or any(g.sub.got.errors for g in guests):
            break
        left = deadline - time.monotonic()
        if left <= 0:
            break
        if not server.alive():
            raise Failure("the server exited during the test")
        for g in guests:
            g.sub.progress.clear()
        waits = [asyncio.create_task(g.sub.progress.wait()) for g in guests]
        await asyncio.wait(waits, timeout=min(left, 1.0), return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
    for g in guests:
        g.check_media()

    # 6. Signalling around it: the host saw the guests come, and sees them go.
    for g in guests:
        await host.wait_for(f"meeting.participant_joined for the {g.label}",
                            lambda f, g=g: f.get("type") == "meeting.participant_joined"
                            and (f.get("participant") or {}).get("id") == g.id, 3)
    for g in guests:
        await g.sig.request("meeting.leave")
        await host.wait_for(f"meeting.participant_left for the {g.label}",
                            lambda f, g=g: f.get("type") == "meeting.participant_left"
                            and f.get("participant_id") == g.id, 5)


async def main() -> int:
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    server = Server()
    summary: dict = {}
    t_start = time.monotonic()
    failure = ""
    code = 0
    try:
        await server.start()
        await run(server, summary)
    except ServerStartError as e:
        failure, code = f"server did not start: {e}", 2
    except Failure as e:
        failure, code = str(e), 1
    except asyncio.CancelledError:
        failure, code = "interrupted (timeout or signal)", 1
    except Exception as e:  # noqa: BLE001 - a test bug or an unexpected answer: still a clean report
        import traceback
        failure, code = f"unexpected {type(e).__name__}: {e}\n{traceback.format_exc()}", 1
    stats = {}
    if failure:
        if summary.get("_pub"):
            stats["publisher sent (RTP packets)"] = await rtp_stats(summary["_pub"], "outbound-rtp")
        for g in summary.get("_guests", []):
            if hasattr(g, "sub"):
                stats[f"{g.label} received (RTP packets)"] = await rtp_stats(g.sub.pc, "inbound-rtp")
    for close in reversed(summary.get("_closers", [])):
        try:
            await asyncio.wait_for(close(), 5)
        except Exception:  # noqa: BLE001 - best effort
            pass
    await server.stop()
    panic = server.panics()
    if panic and not failure:
        failure, code = "the server panicked", 1
    took = time.monotonic() - t_start
    counts = "; ".join(g.counts() for g in summary.get("_guests", [])) or "no guest joined"
    if not failure:
        print(f"interop: PASS aiortc publisher -> Convene SFU -> aiortc guests: {counts}; "
              f"{took:.1f} s in all", flush=True)
        return 0
    print(f"interop: FAIL {failure.splitlines()[0]} [{counts}; {took:.1f} s]", flush=True)
    rest = failure.splitlines()[1:]
    if rest:
        print("\n".join(rest))
    for label, s in stats.items():
        print(f"interop: {label}: {s or 'none'}")
    if panic:
        print(f"interop: server panic:\n{panic}")
    if server.proc is not None:
        print(f"interop: --- last lines of the server log ({server.log_path}) ---\n{server.log_tail()}")
    return code


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
