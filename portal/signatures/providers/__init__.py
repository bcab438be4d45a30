"""Which signature provider Sillon uses, from the configuration.

`SIGNATURE_PROVIDER` = "interne" (default: `provider_for` returns None and the caller uses the
built-in signature service) or "yousign" (Yousign API v3, `YOUSIGN_*` settings).
"""
from __future__ import annotations

from typing import Mapping

from .base import (ProviderError, ProviderEvent, ProviderRequest, ProviderSigner,
                   SignatureProvider)
from .yousign import YousignProvider

__all__ = ["ProviderError", "ProviderEvent", "ProviderRequest", "ProviderSigner",
           "SignatureProvider", "YousignProvider", "provider_for", "PROVIDERS"]

PROVIDERS = ("interne", "yousign")
YOUSIGN_SANDBOX_URL = "https://api-sandbox.yousign.app/v3"


def provider_for(config: Mapping) -> SignatureProvider | None:
    choice = str(config.get("SIGNATURE_PROVIDER") or "interne").strip().lower()
    if choice == "interne":
        return None
    if choice == "yousign":
        return _yousign(config)
    raise ValueError(f"SIGNATURE_PROVIDER inconnu : {choice!r} (valeurs possibles : "
                     f"{', '.join(PROVIDERS)}).")


def _yousign(config: Mapping) -> YousignProvider:
    missing = [key for key in ("YOUSIGN_API_KEY", "YOUSIGN_WEBHOOK_SECRET")
               if not str(config.get(key) or "").strip()]
    if missing:
        raise ValueError("SIGNATURE_PROVIDER = yousign, mais il manque "
                         f"{' et '.join(missing)} dans la configuration.")
    return YousignProvider(base_url=config.get("YOUSIGN_API_URL") or YOUSIGN_SANDBOX_URL,
                           api_key=str(config["YOUSIGN_API_KEY"]).strip(),
                           webhook_secret=str(config["YOUSIGN_WEBHOOK_SECRET"]).strip(),
                           timeout=config.get("YOUSIGN_TIMEOUT", 10))
