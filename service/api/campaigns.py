"""Each touch-credit row of a scoring answer with the touch's ``campaign`` as sent
(new-user report 18, M1): a CRM's per-campaign influence record (opportunity, campaign,
model, influence, revenue) is then a sum of the rows, with no join back to its touches.

The engine's rows name a touch by ``conversion_id`` and ``touch_id`` (``touches[<k>]`` for
one sent without an id); the campaign is the one the request sent with that touch. It is
written into the engine's JSON as it stands, numbers untouched: every touch-credit row, and
nothing else in an answer, holds ``,"contact_id":`` (a JSON string cannot hold its bare
quotes), right after the row's ``{"conversion_id":...,"touch_id":...``. An answer whose
request sent no campaign (the everyday one) gets ``"campaign":null`` there by one bytes
replace; otherwise each row's two ids are read from the bytes before it, once per touch
(the rows of every model repeat them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

__all__ = ["with_campaigns"]

_CONTACT = b',"contact_id":'
_ROW = b'{"conversion_id":'
_NO_CAMPAIGN = b',"campaign":null' + _CONTACT


def _sent(journeys: Sequence[Any]) -> dict[tuple[str, str], str]:
    """(conversion id, touch id as the rows name it) -> campaign, for the touches sent
    with one."""
    found: dict[tuple[str, str], str] = {}
    for journey in journeys:
        conversion = journey["conversion"]["id"]
        for k, touch in enumerate(journey["touches"]):
            campaign = touch.get("campaign")
            if campaign is not None:
                touch_id = touch.get("touch_id")
                found[conversion, f"touches[{k}]" if touch_id is None else touch_id] = campaign
    return found


def with_campaigns(content: bytes, journeys: Sequence[Any]) -> bytes:
    """``content`` (a scoring answer, :meth:`attribution.JourneyScores.to_json`) with each
    touch-credit row's ``campaign`` after its ``touch_id``: the campaign the request sent
    with that touch, null when none."""
    sent = _sent(journeys)
    if not sent:
        return content.replace(_CONTACT, _NO_CAMPAIGN)
    parts = content.split(_CONTACT)
    tags: dict[bytes, bytes] = {}  # a row's '{"conversion_id":...,"touch_id":...' -> its tag
    out: list[bytes] = []
    for part in parts[:-1]:
        head = part[part.rfind(_ROW):]
        tag = tags.get(head)
        if tag is None:
            ids = orjson.loads(head + b"}")
            campaign = sent.get((ids["conversion_id"], ids["touch_id"]))
            tag = tags[head] = b',"campaign":' + orjson.dumps(campaign) + _CONTACT
        out += (part, tag)
    out.append(parts[-1])
    return b"".join(out)
