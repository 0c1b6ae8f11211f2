"""Bearer-token authentication for the API (tokens are stored hashed)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from aftersales.accounts.services import token_authenticate


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        user = token_authenticate(token)
        if user is not None:
            request.user = user
        return user
