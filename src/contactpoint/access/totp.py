"""The second factor: TOTP devices (django-otp), their otpauth URIs and QR codes."""

from __future__ import annotations

import base64
import io
import time
from urllib.parse import quote, urlencode

import qrcode
import qrcode.image.svg
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

ISSUER = "ContactPoint"


def base32_secret(device: TOTPDevice) -> str:
    """The device key as people's authenticator apps want it typed: base32, no padding."""
    return base64.b32encode(device.bin_key).decode("ascii").rstrip("=")


def otpauth_uri(device: TOTPDevice, *, issuer: str = ISSUER) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    label = quote(f"{issuer}:{device.user.get_username()}")
    params = {
        "secret": base32_secret(device),
        "issuer": issuer,
        "algorithm": "SHA1",
        "digits": device.digits,
        "period": device.step,
    }
    return f"otpauth://totp/{label}?{urlencode(params)}"


def qr_code_svg(data: str) -> str:
    """An inline SVG QR code (no image file, no third-party service sees the secret)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode("utf-8")
    # Drop the XML declaration so that the SVG can sit inside the page's HTML.
    return svg[svg.index("<svg") :]


def code_was_replayed(device: TOTPDevice, code: str, previous_last_t: int) -> bool:
    """Whether a refused code was right but already used (a replay), for the audit record."""
    try:
        token = int(code)
    except ValueError:
        return False
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return bool(totp.verify(token, device.tolerance)) and totp.t() <= previous_last_t


def current_code(device: TOTPDevice, *, at: float | None = None) -> str:
    """The code the device shows now (demo and tests; never shown to anyone in production)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() if at is None else at
    return f"{totp.token():0{device.digits}d}"
