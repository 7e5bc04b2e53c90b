"""One pjsua2 Endpoint for the worker process, polled from the main thread.

pjsua2 pitfalls this module absorbs, so the call and listen modes need not:

* Threads.  ``threadCnt = 0`` and ``mainThreadOnly = True``: every callback
  (logging included) runs inside :meth:`PjEndpoint.poll`, on the thread that
  created the library, so Python code never runs on an unregistered PJSIP
  thread.
* Stdout.  PJSIP's console writer prints to fd 1, which is the JSON channel.
  :func:`claim_stdout` moves the JSON channel to a private copy of fd 1 and
  points fd 1 at stderr before the library is created, and the log writer
  goes to stderr too.  ``PJSUA_LOG_LEVEL=5`` in the environment shows the
  SIP messages there when debugging.
* Teardown.  Media ports must die before the call, calls and accounts before
  ``libDestroy()``, and nothing may reach a SWIG destructor after it:
  :meth:`PjEndpoint.close` is the one place that does it in order.
"""

from __future__ import annotations

import os
import sys
from typing import IO, Any

import pjsua2 as pj

# Only PCMU/PCMA and telephone-event are offered: that is what Centralita
# answers with, and a fat offer would let two pjsua2 peers pick a codec the
# server never sees in tests.
_CODEC_PRIORITY = {"PCMU/8000/1": 255, "PCMA/8000/1": 254}
_POLL_MS = 10
LOG_LEVEL_ENV = "PJSUA_LOG_LEVEL"
"""Environment variable with PJSIP's log level (0-6, default 1: errors only)."""
_RTP_PORT_BASE = 40000
_RTP_PORT_RANGE = 10000


def claim_stdout() -> IO[str]:
    """Return a line-buffered writer on the real stdout; send fd 1 to stderr."""
    sys.stdout.flush()
    json_fd = os.dup(1)
    os.dup2(2, 1)
    out = os.fdopen(json_fd, "w", buffering=1, encoding="utf-8")
    sys.stdout = sys.stderr
    return out


class _StderrLog(pj.LogWriter):  # type: ignore[misc]
    def write(self, entry: Any) -> None:
        sys.stderr.write(entry.msg if entry.msg.endswith("\n") else entry.msg + "\n")


class PjEndpoint:
    """The process's pjsua2 library instance: null audio, loopback, no NAT helpers."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        transport: str,
        log_level: int | None = None,
    ) -> None:
        self.ep = pj.Endpoint()
        self.ep.libCreate()
        self._log_writer = _StderrLog()  # pjsua2 keeps a raw pointer: hold it.
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = 4
        cfg.uaConfig.userAgent = "centralita-pjsua-worker"
        if log_level is None:
            log_level = int(os.environ.get(LOG_LEVEL_ENV, "1"))
        cfg.logConfig.level = log_level
        cfg.logConfig.consoleLevel = log_level
        cfg.logConfig.writer = self._log_writer
        cfg.logConfig.decor = 0
        # The conference bridge runs at the telephone rate: recordings come out
        # at 8 kHz and 8 kHz prompts are not resampled twice.
        cfg.medConfig.clockRate = 8000
        cfg.medConfig.sndClockRate = 8000
        cfg.medConfig.ecTailLen = 0  # echo canceller would alter what is recorded
        cfg.medConfig.noVad = True  # silence suppression would gap the RTP stream
        self.ep.libInit(cfg)
        self.ep.audDevManager().setNullDev()

        kind = {"udp": pj.PJSIP_TRANSPORT_UDP, "tcp": pj.PJSIP_TRANSPORT_TCP}[transport]
        tcfg = pj.TransportConfig()
        tcfg.boundAddress = host
        tcfg.publicAddress = host
        tcfg.port = port
        self.transport_id: int = self.ep.transportCreate(kind, tcfg)
        self.ep.libStart()
        self._set_codecs()

    def _set_codecs(self) -> None:
        for codec in self.ep.codecEnum2():
            self.ep.codecSetPriority(codec.codecId, _CODEC_PRIORITY.get(codec.codecId, 0))

    @property
    def local_port(self) -> int:
        """The SIP port actually bound (useful when 0 was asked for)."""
        name: str = self.ep.transportGetInfo(self.transport_id).localName
        return int(name.rsplit(":", 1)[1])

    def account_config(self, id_uri: str, host: str) -> Any:
        """An AccountConfig with no registration, no STUN, no ICE, RTP on ``host``."""
        acfg = pj.AccountConfig()
        acfg.idUri = id_uri
        acfg.regConfig.registrarUri = ""
        acfg.sipConfig.transportId = self.transport_id
        acfg.natConfig.sipStunUse = pj.PJSUA_STUN_USE_DISABLED
        acfg.natConfig.mediaStunUse = pj.PJSUA_STUN_USE_DISABLED
        acfg.natConfig.iceEnabled = False
        acfg.natConfig.turnEnabled = False
        acfg.mediaConfig.transportConfig.boundAddress = host
        acfg.mediaConfig.transportConfig.publicAddress = host
        # Port 0 makes pjsua put "m=audio 0" (a refused stream) in the SDP, so
        # pick a random start in a high range; pjsua skips ports in use.
        acfg.mediaConfig.transportConfig.port = _RTP_PORT_BASE
        acfg.mediaConfig.transportConfig.portRange = _RTP_PORT_RANGE
        acfg.mediaConfig.transportConfig.randomizePort = True
        return acfg

    def poll(self) -> None:
        """Run PJSIP timers, I/O and queued callbacks for up to one tick."""
        self.ep.libHandleEvents(_POLL_MS)

    def close(self) -> None:
        """Destroy the library. Callers must have dropped calls and accounts first."""
        self.ep.libDestroy()
