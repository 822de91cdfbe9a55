"""Webhook signatures: what sign makes, verify_signature accepts; a tampered body, an old or
future timestamp, a wrong secret and a malformed header are refused."""

from __future__ import annotations

from bot.webhook_signature import sign, verify_signature

SECRET = "whsec_test"
BODY = b'{"id":"e1","type":"ticket.resolved"}'
NOW = 1_800_000_000


def test_a_signed_body_verifies() -> None:
    header = sign(SECRET, BODY, timestamp=NOW)
    assert header.startswith(f"t={NOW},v1=") and len(header.split("v1=")[1]) == 64
    assert verify_signature(SECRET, header, BODY, now=NOW)
    assert verify_signature(SECRET, header, BODY, now=NOW + 300)


def test_a_tampered_body_is_refused() -> None:
    header = sign(SECRET, BODY, timestamp=NOW)
    assert not verify_signature(SECRET, header, BODY.replace(b"resolved", b"created"), now=NOW)
    assert not verify_signature(SECRET, header, BODY + b" ", now=NOW)


def test_an_old_or_future_timestamp_is_refused() -> None:
    assert not verify_signature(SECRET, sign(SECRET, BODY, timestamp=NOW - 301), BODY, now=NOW)
    assert not verify_signature(SECRET, sign(SECRET, BODY, timestamp=NOW + 301), BODY, now=NOW)
    assert verify_signature(SECRET, sign(SECRET, BODY, timestamp=NOW - 60), BODY, tolerance=60, now=NOW)
    assert not verify_signature(SECRET, sign(SECRET, BODY, timestamp=NOW - 61), BODY, tolerance=60, now=NOW)


def test_a_wrong_secret_is_refused() -> None:
    assert not verify_signature("whsec_other", sign(SECRET, BODY, timestamp=NOW), BODY, now=NOW)


def test_a_replayed_signature_with_a_new_timestamp_is_refused() -> None:
    mac = sign(SECRET, BODY, timestamp=NOW - 3600).split("v1=")[1]
    assert not verify_signature(SECRET, f"t={NOW},v1={mac}", BODY, now=NOW)


def test_malformed_headers_are_refused() -> None:
    good = sign(SECRET, BODY, timestamp=NOW)
    for header in ("", "garbage", f"t={NOW}", good.split(",")[1], f"t=x{NOW},v1=00", f"t={NOW},t={NOW},v1=0"):
        assert not verify_signature(SECRET, header, BODY, now=NOW), header


def test_any_of_several_v1_values_may_match() -> None:
    header = sign(SECRET, BODY, timestamp=NOW) + ",v1=" + "0" * 64
    assert verify_signature(SECRET, header, BODY, now=NOW)


def test_the_readme_receiver_snippet_agrees() -> None:
    """The few lines the README gives receivers to copy check signatures as this module does."""
    import time
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Webhooks") :]
    code = section[section.index("```python\n") + len("```python\n") :]
    code = code[: code.index("```")]
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    copied = namespace["verify_signature"]
    assert callable(copied)
    now = int(time.time())
    header = sign(SECRET, BODY, timestamp=now)
    assert copied(SECRET, header, BODY)
    assert not copied(SECRET, header, BODY + b"x")
    assert not copied("whsec_other", header, BODY)
    assert not copied(SECRET, sign(SECRET, BODY, timestamp=now - 301), BODY)
    assert not copied(SECRET, "t=1,v1=", BODY)
