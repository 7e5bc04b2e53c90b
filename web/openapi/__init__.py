"""The OpenAPI 3.1 document of every HTTP route, built from the live route table and the
operations each route group declares (`web.openapi.groups`); served at `/api/openapi.json`."""

from web.openapi.document import add_openapi_route, build_document, undocumented

__all__ = ["add_openapi_route", "build_document", "undocumented"]
