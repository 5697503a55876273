"""Bearer tokens: every endpoint needs one, of a role at least as strong as its own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from orchestrator.api.context import Context, context
from orchestrator.errors import Unauthenticated
from orchestrator.service import tokens
from orchestrator.service.tokens import Principal, Role

bearer = HTTPBearer(
    auto_error=False,
    description="A token from `scrubctl token create NAME --role viewer|operator|admin`.",
)


def _needs(role: Role) -> Callable[..., object]:
    async def dependency(
        request: Request,
        ctx: Annotated[Context, Depends(context)],
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        if credentials is None:
            raise Unauthenticated(
                "no bearer token (Authorization: Bearer TOKEN)", where="authorization"
            )
        now = datetime.now(UTC)
        principal = await run_in_threadpool(
            tokens.authenticate, ctx.db, credentials.credentials, now=now
        )
        tokens.require(principal, role)
        return principal

    return dependency


Viewer = Annotated[Principal, Depends(_needs(Role.VIEWER))]
Operator = Annotated[Principal, Depends(_needs(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(_needs(Role.ADMIN))]
