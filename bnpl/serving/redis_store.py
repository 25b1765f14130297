"""The production online store on Redis, with the methods of :class:`bnpl.serving.store.SqliteStore`.

Keys (under the prefix):

* ``<p>:c:<customer_key>``: a sorted set of the customer's transactions, scored by event time
  (seconds), each member the JSON of its :data:`~bnpl.serving.features.HISTORY_COLUMNS`;
* ``<p>:seen``: a set of the transaction keys added (exactly once);
* ``<p>:market:n`` and ``<p>:market:a``: hashes of the daily transaction counts and amounts.

One Lua script adds a batch atomically: a transaction already seen changes nothing, so a
redelivered micro-batch is harmless.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import redis

from bnpl.errors import ServingError
from bnpl.serving.features import HISTORY_COLUMNS, HISTORY_DAYS, MARKET_DAYS, History, epoch_seconds

_APPLY = """
local added = 0
local count_market = ARGV[1] == '1'
for i = 2, #ARGV, 6 do
  local key, customer, ts, day, amount = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  if redis.call('SADD', KEYS[1], key) == 1 then
    added = added + 1
    redis.call('ZADD', KEYS[2] .. customer, ts, ARGV[i + 5])
    if count_market then
      redis.call('HINCRBY', KEYS[3], day, 1)
      redis.call('HINCRBY', KEYS[4], day, amount)
    end
  end
end
return added
"""


class RedisStore:
    """The online store on a redis-server (``BNPL_SERVING__STORE_REDIS_URL``)."""

    def __init__(self, url: str, *, prefix: str = "bnpl:serving", timeout_s: float = 5.0) -> None:
        self._redis = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self._p = prefix
        self._apply = self._redis.register_script(_APPLY)

    def _keys(self) -> list[str]:
        return [f"{self._p}:seen", f"{self._p}:c:", f"{self._p}:market:n", f"{self._p}:market:a"]

    def apply(self, rows: Iterable[Mapping[str, Any]], *, count_market: bool = True) -> int:
        """Add transactions not yet in the store; see :meth:`SqliteStore.apply`."""
        args: list[Any] = ["1" if count_market else "0"]
        for row in rows:
            args += [
                row["transaction_key"],
                row["customer_key"],
                epoch_seconds(row["transaction_ts"]),
                row["transaction_date"].isoformat(),
                int(row["amount_cents"]),
                json.dumps([_json(row[c]) for c in HISTORY_COLUMNS]),
            ]
        if len(args) == 1:
            return 0
        try:
            return int(self._apply(keys=self._keys(), args=args))
        except redis.RedisError as exc:
            raise ServingError(f"cannot update the Redis online store: {exc}") from exc

    def set_market_days(self, rows: Iterable[Mapping[str, Any]]) -> None:
        try:
            pipe = self._redis.pipeline(transaction=True)
            for r in rows:
                day = r["transaction_date"].isoformat()
                pipe.hset(f"{self._p}:market:n", day, int(r["txn_count"]))
                pipe.hset(f"{self._p}:market:a", day, int(r["amount_cents"]))
            pipe.execute()
        except redis.RedisError as exc:
            raise ServingError(f"cannot update the Redis online store: {exc}") from exc

    def history(self, customer_key: str, day: date) -> History:
        first = day - timedelta(days=HISTORY_DAYS)
        low = epoch_seconds(datetime(first.year, first.month, first.day))
        high = epoch_seconds(datetime(day.year, day.month, day.day)) + 86_399
        days = [(day - timedelta(days=n)).isoformat() for n in range(MARKET_DAYS, -1, -1)]
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.zrangebyscore(f"{self._p}:c:{customer_key}", low, high)
            pipe.hmget(f"{self._p}:market:n", days)
            pipe.hmget(f"{self._p}:market:a", days)
            members, counts, amounts = pipe.execute()
        except redis.RedisError as exc:
            raise ServingError(f"cannot read the Redis online store: {exc}") from exc
        transactions = []
        for member in members:
            values = json.loads(member)
            row = dict(zip(HISTORY_COLUMNS, values, strict=True))
            row["transaction_date"] = date.fromisoformat(row["transaction_date"])
            row["transaction_ts"] = datetime.fromisoformat(row["transaction_ts"])
            transactions.append(row)
        market = [
            {"transaction_date": date.fromisoformat(d), "txn_count": int(n), "amount_cents": int(a)}
            for d, n, a in zip(days, counts, amounts, strict=True)
            if n is not None
        ]
        return History(transactions=transactions, market_days=market)

    def ping(self) -> None:
        try:
            self._redis.ping()
        except redis.RedisError as exc:
            raise ServingError(f"Redis online store unreachable: {exc}") from exc

    def close(self) -> None:
        self._redis.close()


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
