"""Register once with pjsua2 (a real, independent SIP stack) and print the final status.

Run as a subprocess (pjsua2 allows one Endpoint per process):
`python -m tests.sip.pjsua_register HOST:PORT USER PASSWORD` prints `{"status": N, ...}`.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import pjsua2 as pj


class _Account(pj.Account):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.status: int | None = None
        self.reason = ""

    def onRegState(self, prm: Any) -> None:  # noqa: N802 - pjsua2 name
        self.status = int(prm.code)
        self.reason = str(prm.reason)


def main(argv: list[str]) -> int:
    target, user, password = argv
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.logConfig.level = 0
    cfg.logConfig.consoleLevel = 0
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    ep.libInit(cfg)
    tcfg = pj.TransportConfig()
    tcfg.port = 0
    tcfg.boundAddress = "127.0.0.1"
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
    ep.libStart()
    ep.audDevManager().setNullDev()
    acfg = pj.AccountConfig()
    acfg.idUri = f"sip:{user}@127.0.0.1"
    acfg.regConfig.registrarUri = f"sip:{target}"
    acfg.regConfig.timeoutSec = 300
    acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", user, 0, password))
    acc = _Account()
    acc.create(acfg)
    deadline = time.monotonic() + 10
    while acc.status is None and time.monotonic() < deadline:
        ep.libHandleEvents(20)
    print(json.dumps({"status": acc.status, "reason": acc.reason}), flush=True)
    acc.shutdown()
    ep.libDestroy()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
