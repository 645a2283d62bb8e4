"""Which attribution headers an upstream call carries: the gateway's, or (when allowed) the calling app's."""

from __future__ import annotations

from starlette.datastructures import Headers

from gateway.attribution import Attribution
from gateway.settings import Settings

GATEWAY = {"referer": "https://github.com/gateway/gateway", "title": "gateway"}


def _headers(**values: str) -> Headers:
    return Headers({name.replace("_", "-"): value for name, value in values.items()})


def test_off_by_default_the_gateways_own_go() -> None:
    settings = Settings()
    attribution = Attribution(referer=settings.app_referer, title=settings.app_title,
                              pass_client=settings.pass_client_attribution)
    assert attribution.for_request(_headers(http_referer="https://app.example", x_title="My App")) is None
    assert attribution.defaults == {"http-referer": settings.app_referer, "x-title": "gateway",
                                    "x-openrouter-title": "gateway"}


def test_the_clients_own_replace_the_gateways_each_independently() -> None:
    attribution = Attribution(**GATEWAY, pass_client=True)
    both = attribution.for_request(_headers(http_referer="https://app.example", x_title="My App"))
    assert both == {"http-referer": "https://app.example", "x-title": "My App", "x-openrouter-title": "My App"}
    only_title = attribution.for_request(_headers(x_openrouter_title="Other App"))
    assert only_title == {"http-referer": GATEWAY["referer"], "x-title": "Other App",
                          "x-openrouter-title": "Other App"}
    assert attribution.for_request(_headers(authorization="Bearer x")) is None


def test_unsafe_values_are_ignored() -> None:
    attribution = Attribution(**GATEWAY, pass_client=True)
    assert attribution.for_request(_headers(x_title="a" * 257)) is None
    assert attribution.for_request(_headers(x_title="   ")) is None
    assert attribution.for_request({"x-title": "Evil\r\nX-Injected: 1"}) is None
    mixed = attribution.for_request({"http-referer": "https://ok.example", "x-title": "bad\x00"})
    assert mixed == {"http-referer": "https://ok.example", "x-title": "gateway", "x-openrouter-title": "gateway"}
