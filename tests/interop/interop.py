"""WebRTC interop: aiortc, an independent WebRTC stack, publishes and receives through
Convene's SFU.

Starts the server binary ($CONVENE_BIN, default target/debug/convene) on loopback with
a fresh data directory, completes first-run setup over the REST API, creates a meeting,
and then:

1. the owner (a signed-in member, the meeting's host) joins over /api/ws and publishes
   real VP8 video (a synthetic moving picture, encoded by aiortc's libvpx encoder; VP8
   forced by codec preferences) and Opus audio (a tone) on its publish connection;
2. a guest (POST /api/meetings/{code}/guests) joins over its own websocket, answers
   the server's meeting.offer on its subscribe connection and must decode at least
   INTEROP_MIN_FRAMES video frames (default 60) and receive INTEROP_MIN_AUDIO audio
   frames (default 50) within INTEROP_MEDIA_TIMEOUT seconds (default 30).

Every video frame carries its number in a row of black and white blocks; the guest
reads it back from the decoded picture, so frozen or foreign video fails the test.
The offer's `tracks` map must name the publisher's participant id and each source,
and the mids the guest's tracks arrive on must be the ones it names.

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
        self.got = Received()
        self.progress = asyncio.Event()
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task] = []
        self.pc.on("track", self._on_track)
        sig.handlers["meeting.offer"] = self._on_offer

    def _on_offer(self, frame: dict) -> None:
        self.offers.append(frame)
        self._tasks.append(asyncio.create_task(self._answer(frame)))

    async def _answer(self, frame: dict) -> None:
        async with self._lock:  # offers are applied in the order they came
            try:
                await self.pc.setRemoteDescription(RTCSessionDescription(frame["sdp"], "offer"))
                answer = await self.pc.createAnswer()
                await self.pc.setLocalDescription(answer)
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
                      f"after {timeout:.0f} s") from None
    if pc.connectionState != "connected":
        raise Failure(f"{label}: connection {pc.connectionState} (ICE {pc.iceConnectionState})")


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


async def run(server: Server, summary: dict) -> None:
    """The test; raises Failure. Leaves in `summary` what main() reports and closes."""
    base = server.url
    closers: list = summary.setdefault("_closers", [])  # closed in reverse order
    progress(f"server at {base}")

    # Owner account and workspace (first-run setup), a meeting, a guest token.
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

    # 1. The member joins and publishes camera + mic.
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
    published = await host.request("meeting.publish", sdp=pub.localDescription.sdp, tracks=tracks)
    if not published.get("sdp"):
        raise Failure(f"publisher: meeting.publish answered without sdp: {json.dumps(published)[:300]}")
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

    # 2. The guest joins and subscribes.
    guest_token = (await api(base, "POST", f"/api/meetings/{urllib.parse.quote(code)}/guests",
                             {"name": "aiortc guest"})).get("token")
    if not guest_token:
        raise Failure("POST /api/meetings/{code}/guests returned no token")
    guest = Signal("guest", base, guest_token)
    await guest.open()
    closers.append(guest.close)
    guest_sub = Subscriber(guest)
    closers.append(guest_sub.close)
    summary["_guest_sub"] = guest_sub
    t_guest = summary["t_guest"] = now()
    joined = await guest.request("meeting.join", code=code)
    if joined.get("status") == "waiting":  # a lobby: the host admits the guest
        progress("guest waits in the lobby; the host admits")
        lobby = await host.wait_for("meeting.lobby naming the guest",
                                    lambda f: f.get("type") == "meeting.lobby" and f.get("waiting"))
        await host.request("meeting.host", action="admit", participant_id=lobby["waiting"][0]["id"])
        joined = await guest.wait_for("meeting.joined", lambda f: f.get("type") == "meeting.joined")
    elif joined.get("status") != "joined":
        raise Failure(f"guest: meeting.join answered status {joined.get('status')!r}")
    guest_id = (joined.get("self") or {}).get("id")
    if not guest_id:
        raise Failure(f"guest: the join answer has no self.id: {json.dumps(joined)[:300]}")
    if (joined.get("self") or {}).get("role") != "guest":
        raise Failure(f"guest: joined with role {(joined.get('self') or {}).get('role')!r}, expected 'guest'")
    listed = {p.get("id"): p for p in joined.get("participants") or []}
    if pub_id not in listed:
        raise Failure(f"guest: the join answer's participants do not list the publisher {pub_id}: {list(listed)}")
    summary["guest"] = guest_id
    progress(f"guest joined as {guest_id}")

    # The offer that carries the publisher's camera and mic.
    def names_publisher(f: dict) -> bool:
        return f.get("type") == "meeting.offer" and any(
            t.get("participant_id") == pub_id and t.get("source") == "camera" for t in f.get("tracks") or [])

    try:
        offer = await guest.wait_for("meeting.offer with the publisher's camera", names_publisher)
    except Failure:
        offered = [o.get("tracks") for o in guest_sub.offers]
        raise Failure(f"guest: no meeting.offer names participant {pub_id} source 'camera' within "
                      f"{STEP_TIMEOUT:.0f} s of joining; offers received: {offered}") from None
    by_source = {t.get("source"): t for t in offer["tracks"] if t.get("participant_id") == pub_id}
    if "mic" not in by_source:
        raise Failure(f"guest: the offer's tracks name the publisher's camera but not its mic: {offer['tracks']}")
    offer_secs = {s["mid"]: s for s in media_sections(offer["sdp"])}
    for source, kind in (("camera", "video"), ("mic", "audio")):
        mid = by_source[source].get("mid")
        sec = offer_secs.get(mid)
        if sec is None or sec["kind"] != kind:
            raise Failure(f"guest: the offer's tracks put the publisher's {source} on mid {mid!r}, "
                          f"but that m-line is {sec and sec['kind']!r}")
    summary["offer_tracks"] = offer["tracks"]
    progress(f"offer tracks {offer['tracks']}")

    # 3. Media: decode MIN_FRAMES video frames and MIN_AUDIO audio frames.
    got = guest_sub.got
    deadline = time.monotonic() + MEDIA_TIMEOUT
    while not (got.video_frames >= MIN_FRAMES and got.audio_frames >= MIN_AUDIO):
        left = deadline - time.monotonic()
        if left <= 0 or got.errors or not server.alive():
            break
        guest_sub.progress.clear()
        try:
            await asyncio.wait_for(guest_sub.progress.wait(), min(left, 1.0))
        except asyncio.TimeoutError:
            pass
    summary["media_secs"] = now() - t_guest
    if got.errors:
        raise Failure("guest: " + "; ".join(got.errors))
    if not server.alive():
        raise Failure("the server exited during the test")
    if guest_sub.pc.connectionState != "connected":
        raise Failure(f"guest: subscribe connection is {guest_sub.pc.connectionState} "
                      f"(ICE {guest_sub.pc.iceConnectionState}) after {MEDIA_TIMEOUT:.0f} s")
    if got.video_frames < MIN_FRAMES or got.audio_frames < MIN_AUDIO:
        raise Failure(f"guest decoded {got.video_frames} video frames (need {MIN_FRAMES}) and "
                      f"{got.audio_frames} audio frames (need {MIN_AUDIO}) in {MEDIA_TIMEOUT:.0f} s")
    if got.sizes != {(WIDTH, HEIGHT)}:
        raise Failure(f"guest: decoded frame sizes {sorted(got.sizes)}, expected {WIDTH}x{HEIGHT}")
    # Frames are the publisher's moving picture, in order: mostly consecutive numbers.
    steps = [(b - a) % (1 << MARK_BITS) for a, b in zip(got.marks, got.marks[1:])]
    forward = sum(1 for s in steps if 1 <= s <= 8)
    if forward < 0.8 * len(steps):
        raise Failure(f"guest: decoded frames do not show the publisher's picture advancing "
                      f"(frame numbers read back: {got.marks[:40]}...)")
    if by_source["camera"]["mid"] not in got.video_mids:
        raise Failure(f"guest: video arrived on mids {got.video_mids}, the offer put the camera on "
                      f"{by_source['camera']['mid']}")
    if by_source["mic"]["mid"] not in got.audio_mids:
        raise Failure(f"guest: audio arrived on mids {got.audio_mids}, the offer put the mic on "
                      f"{by_source['mic']['mid']}")

    # 4. Signalling around it: the host saw the guest come, and sees it go.
    await host.wait_for("meeting.participant_joined for the guest",
                        lambda f: f.get("type") == "meeting.participant_joined"
                        and (f.get("participant") or {}).get("id") == guest_id, 3)
    await guest.request("meeting.leave")
    await host.wait_for("meeting.participant_left for the guest",
                        lambda f: f.get("type") == "meeting.participant_left"
                        and f.get("participant_id") == guest_id, 5)
    summary["passed"] = True


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
        if summary.get("_guest_sub"):
            stats["guest received (RTP packets)"] = await rtp_stats(summary["_guest_sub"].pc, "inbound-rtp")
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
    sub = summary.get("_guest_sub")
    got = sub.got if sub else Received()
    counts = (f"video {got.video_frames} frames decoded"
              f"{' (' + ', '.join(f'{w}x{h}' for w, h in sorted(got.sizes)) + ')' if got.sizes else ''}, "
              f"audio {got.audio_frames} frames")
    if not failure:
        first = got.first_video_at - summary["t_guest"]
        print(f"interop: PASS aiortc publisher -> Convene SFU -> aiortc guest: {counts} "
              f"in {summary['media_secs']:.1f} s from the guest's join (first frame after {first:.2f} s); "
              f"{took:.1f} s in all", flush=True)
        return 0
    print(f"interop: FAIL {failure.splitlines()[0]} [{counts}; {took:.1f} s]", flush=True)
    rest = failure.splitlines()[1:]
    if rest:
        print("\n".join(rest))
    if summary.get("offer_tracks"):
        print(f"interop: offer tracks: {summary['offer_tracks']}")
    for label, s in stats.items():
        print(f"interop: {label}: {s or 'none'}")
    if panic:
        print(f"interop: server panic:\n{panic}")
    tail = server.log_tail()
    if server.proc is not None:
        print(f"interop: --- last lines of the server log ({server.log_path}) ---\n{tail}")
    return code


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
