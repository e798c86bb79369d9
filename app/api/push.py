"""/v1/push: what a browser needs to subscribe to the service's Web Push alerts."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.alerts.schemas import VapidPublicKey
from app.alerts.vapid import Vapid
from app.api.deps import CurrentActor

router = APIRouter(prefix="/v1/push", tags=["alerts"])


@router.get("/vapid-public-key", response_model=VapidPublicKey)
async def vapid_public_key(request: Request, actor: CurrentActor) -> VapidPublicKey:
    """The service's VAPID public key, for PushManager.subscribe() (`applicationServerKey`):
    the subscription it makes is then registered as a `web_push` contact method (POST
    /v1/me/contact-methods, with its endpoint and keys). The same on every instance."""
    vapid: Vapid = request.app.state.vapid
    return VapidPublicKey(application_server_key=vapid.application_server_key)
