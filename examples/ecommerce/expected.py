"""The stream app's results computed directly from the generated events (a test oracle).

Plain Python over the whole event list, written independently of the stream engine:
the day-old events (:func:`generator.is_day_late`) are left out, as the app's windows
reject them; everything else counts (its disorder is within the app's bounds). Returns
``{topic: {record key: value}}`` in the app's output shapes (docs in :mod:`shop_app`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from generator import is_day_late

MINUTE = 60_000


def _starts(ts: int, size: int, every: int) -> list[int]:
    last = ts - ts % every
    return [s for s in range(last - size + every, last + 1, every) if s > ts - size]


def expected_outputs(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    good = [e for e in events if e.get("type") in ("view", "add_to_cart", "purchase")
            and not is_day_late(e)]
    buys = [e for e in good if e["type"] == "purchase"]
    out: dict[str, dict[str, Any]] = {t: {} for t in (
        "revenue-per-minute", "top-products", "funnel", "fraud-alerts")}

    cents: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for e in buys:
        start = e["ts"] - e["ts"] % MINUTE
        cents[start][0] += round(e["price"] * 100) * e["quantity"]
        cents[start][1] += 1
    for start, (c, n) in cents.items():
        out["revenue-per-minute"][str(start)] = {
            "window_start": start, "window_end": start + MINUTE, "revenue": c / 100,
            "purchases": n}

    per_window: dict[int, Counter[str]] = defaultdict(Counter)
    for e in buys:
        for start in _starts(e["ts"], 5 * MINUTE, MINUTE):
            per_window[start][e["product_id"]] += 1
    for start, counts in per_window.items():
        best = sorted(counts.items(), key=lambda kv: (-kv[1], f'"{kv[0]}"'))[:10]
        out["top-products"][str(start)] = {
            "window_start": start, "window_end": start + 5 * MINUTE,
            "products": [{"product_id": p, "count": n} for p, n in best]}

    by_user: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in good:
        by_user[e["user_id"]].append(e)
    kinds = ("view", "add_to_cart", "purchase")
    for user, evs in by_user.items():
        evs.sort(key=lambda e: e["ts"])
        sessions: list[list[dict[str, Any]]] = []
        for e in evs:
            if sessions and e["ts"] <= sessions[-1][-1]["ts"] + 30_000:
                sessions[-1].append(e)
            else:
                sessions.append([e])
        for s in sessions:
            n = Counter(e["type"] for e in s)
            start = s[0]["ts"]
            out["funnel"][f"{user}:{start}"] = {
                "session_start": start, "session_end": s[-1]["ts"] + 30_000,
                "user_id": user, "views": n[kinds[0]], "carts": n[kinds[1]],
                "purchases": n[kinds[2]]}

    user_windows: dict[tuple[str, int], int] = Counter()
    card_windows: dict[tuple[str, int], set[str]] = defaultdict(set)
    for e in buys:
        for start in _starts(e["ts"], 10_000, 1_000):
            user_windows[(e["user_id"], start)] += 1
        for start in _starts(e["ts"], MINUTE, 10_000):
            card_windows[(e["card"], start)].add(e["user_id"])
    for (user, start), n in user_windows.items():
        if n > 5:
            end = start + 10_000
            out["fraud-alerts"][f"burst:{user}:{end}"] = {
                "rule": "burst", "ts": end, "user_id": user, "card": None,
                "details": f"{n} purchases in 10 s"}
    for (card, start), users in card_windows.items():
        if len(users) >= 3:
            end = start + MINUTE
            out["fraud-alerts"][f"shared-card:{card}:{end}"] = {
                "rule": "shared-card", "ts": end, "user_id": None, "card": card,
                "details": f"{len(users)} users in 60 s"}
    return out
