"""The small scoring engine's result (:class:`SmallResult`): its credit array turned into
the frames or the JSON rows of :class:`~attribution.engine._scoring.JourneyScores` on demand,
without a dict or a format string per row (:mod:`attribution.engine._scoring_small`)."""

from __future__ import annotations

from itertools import repeat
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import polars as pl

from attribution.engine._result import CHANNEL_CREDIT_SCHEMA, TOUCH_CREDIT_SCHEMA

if TYPE_CHECKING:
    from attribution.engine._scoring_small import _Request

__all__ = ["SmallResult"]


def _iso_texts(micros: np.ndarray) -> list[str]:
    """UTC timestamps as Polars writes them in JSON: ``...T09:00:00+00:00``, whole
    milliseconds in three digits (``...T09:00:00.500+00:00``), else six."""
    text = np.datetime_as_string(micros.astype("datetime64[us]"), unit="us").tolist()
    cut = np.where(micros % 1_000_000 == 0, 19, np.where(micros % 1000 == 0, 23, 26)).tolist()
    return [t[:c] + "+00:00" for t, c in zip(text, cut, strict=True)]


def _numbers(values: np.ndarray) -> list[bytes]:
    """Each float as orjson writes it (shortest round-trip form), in one call."""
    out: list[bytes] = orjson.dumps(values.tolist())[1:-1].split(b",")
    return out


class SmallResult:
    """The small engine's credit (touches x models, model-major), turned into the frames or
    the JSON rows of :class:`~attribution.engine._scoring.JourneyScores` on demand."""

    def __init__(self, req: _Request, labels: list[str], credit: np.ndarray) -> None:
        self.req = req
        self.labels = labels
        self.credit = credit
        self.value = (credit.reshape(len(labels), req.n) * req.conv_values[req.conv]).ravel()
        names = sorted(set(req.channels))
        self.names = names
        code = dict(zip(names, range(len(names)), strict=True))
        self.codes = np.fromiter((code[c] for c in req.channels), dtype=np.int64, count=req.n)

    def channel_names(self) -> list[str]:
        return list(self.names)

    def _touch_columns(self) -> dict[str, list[Any]]:
        req, models = self.req, len(self.labels)
        return {
            "conversion_id": [req.conv_ids[j] for j in req.conv.tolist()] * models,
            "touch_id": req.touch_ids * models,
            "contact_id": req.contacts * models,
            "channel": req.channels * models,
        }

    def touch_frame(self) -> pl.DataFrame:
        req, models = self.req, len(self.labels)
        columns: dict[str, Any] = self._touch_columns()
        return pl.DataFrame(
            {
                **columns,
                "account_id": pl.Series([None] * (req.n * models), dtype=pl.String),
                "timestamp": pl.Series(np.tile(req.times, models)).cast(pl.Datetime("us"))
                .dt.replace_time_zone("UTC"),
                "model": [label for label in self.labels for _ in range(req.n)],
                "credit": self.credit,
                "value": self.value,
            },
            schema=TOUCH_CREDIT_SCHEMA,
        )

    def _channel_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Sums by model and channel: (channel index, conversions, value, share) per row, in
        model order, then conversions (descending), then channel, as
        :func:`channel_credit_from_touches` sorts them. Every channel of the request has
        touches under every model: each model has a row per channel."""
        models, k = len(self.labels), len(self.names)
        group = (np.arange(models)[:, None] * k + self.codes).ravel()
        conversions = np.bincount(group, weights=self.credit, minlength=models * k)
        values = np.bincount(group, weights=self.value, minlength=models * k)
        # a model's channel shares; 0 where the model credits nothing (0 / 0)
        per_model = np.repeat(conversions.reshape(models, k).sum(axis=1), k)
        share = np.divide(conversions, per_model, out=np.zeros(conversions.shape),
                          where=per_model != 0)
        # per model, by conversions (descending) then channel: a stable sort of the negated
        # sums within each model's k rows
        order = np.argsort(-conversions.reshape(models, k), axis=1, kind="stable")
        flat = (order + np.arange(models)[:, None] * k).ravel()
        return order.ravel(), conversions[flat], values[flat], share[flat]

    def _channel_sums(self) -> tuple[list[str], list[str], list[float], list[float], list[float]]:
        channel, conversions, values, share = self._channel_table()
        k = len(self.names)
        return ([label for label in self.labels for _ in range(k)],
                [self.names[i] for i in channel.tolist()],
                conversions.tolist(), values.tolist(), share.tolist())

    def channel_frame(self) -> pl.DataFrame:
        return pl.DataFrame(dict(zip(CHANNEL_CREDIT_SCHEMA, self._channel_sums(), strict=True)),
                            schema=CHANNEL_CREDIT_SCHEMA)

    def json_rows(self) -> tuple[bytes, bytes]:
        """Touch and channel credit as JSON arrays of row objects: the frames' own
        ``write_json``, with the same keys and values (numbers to the last digit).

        The rows are put together from pieces in one ``join`` per array: each touch's head
        (ids, channel, time) written once, each model's label and each channel once, the
        numbers in one ``orjson`` call per column; no dict or format string per row."""
        req, n, labels = self.req, self.req.n, self.labels
        if not n:
            return b"[]", b"[]"
        heads = [
            orjson.dumps({"conversion_id": req.conv_ids[j], "touch_id": t, "contact_id": k,
                          "account_id": None, "channel": ch, "timestamp": ts})[:-1]
            for j, t, k, ch, ts in zip(req.conv.tolist(), req.touch_ids, req.contacts,
                                       req.channels, _iso_texts(req.times), strict=True)
        ]
        rows = n * len(labels)
        # per row: head, model and "credit" key, credit, "value" key, value, end
        touch: list[bytes] = [b""] * (6 * rows)
        touch[0::6] = heads * len(labels)
        touch[1::6] = [tail for label in labels
                       for tail in repeat(b',"model":' + orjson.dumps(label) + b',"credit":', n)]
        touch[2::6] = _numbers(self.credit)
        touch[3::6] = [b',"value":'] * rows
        touch[4::6] = _numbers(self.value)
        touch[5::6] = [b"},"] * rows
        touch[0] = b"[" + touch[0]
        touch[-1] = b"}]"
        channel, conversions, values, share = self._channel_table()
        k, rows = len(self.names), len(conversions)
        names = [orjson.dumps(c) + b',"conversions":' for c in self.names]
        sums: list[bytes] = [b""] * (8 * rows)
        sums[0::8] = [head for label in labels
                      for head in repeat(b'{"model":' + orjson.dumps(label) + b',"channel":', k)]
        sums[1::8] = [names[i] for i in channel.tolist()]
        sums[2::8] = _numbers(conversions)
        sums[3::8] = [b',"value":'] * rows
        sums[4::8] = _numbers(values)
        sums[5::8] = [b',"share":'] * rows
        sums[6::8] = _numbers(share)
        sums[7::8] = [b"},"] * rows
        sums[0] = b"[" + sums[0]
        sums[-1] = b"}]"
        return b"".join(touch), b"".join(sums)
