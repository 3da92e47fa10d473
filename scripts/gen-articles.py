#!/usr/bin/env python3
"""Writes N synthetic articles as JSON Lines for `mediawarm-api import`.

    python3 scripts/gen-articles.py 100000 > articles.jsonl

Articles spread over 10 sources and the last 90 days (one in ten without a date), with
deterministic content so that two runs give the same file.
"""
import datetime
import json
import random
import sys


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rng = random.Random(42)
    now = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)
    out = sys.stdout
    for i in range(n):
        source = f"source-{i % 10}"
        published = now - datetime.timedelta(seconds=rng.randrange(90 * 86400))
        row = {
            "source": source,
            "url": f"https://{source}.example/articles/{i}",
            "title": f"Synthetic article {i}",
            "author": rng.choice(["Ada Reporter", "Grace Writer", None]),
            "published_at": None if i % 10 == 9 else published.isoformat().replace("+00:00", "Z"),
            "summary": f"Summary of article {i}.",
        }
        out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
