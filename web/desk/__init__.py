"""The agent desk: the browser softphone page and its WebSocket.

    protocol   the desk's WebSocket messages (commands parsed into dataclasses), the
               `DeskService` the server side implements and the `DeskLink` it sends through
    link       one open desk over a WebSocket: bounded send queue, reader, close codes
    api        `add_desk_routes`: the page, its static files and `/api/desk/ws`
    static/    the page (plain ES modules, no build step)
"""

from web.desk.api import DESK_SERVICE, DESKS, add_desk_routes
from web.desk.protocol import (
    DeskCommand,
    DeskError,
    DeskLink,
    DeskProtocolError,
    DeskService,
    parse_command,
)

__all__ = [
    "DESKS",
    "DESK_SERVICE",
    "DeskCommand",
    "DeskError",
    "DeskLink",
    "DeskProtocolError",
    "DeskService",
    "add_desk_routes",
    "parse_command",
]
