"""Catalogue sync throughput and the cost of a re-sync (make bench-catalogue ->
bench/results/catalogue.json).

A local shop speaking the Fake Store API shape serves N products over HTTP on loopback; one
sync job runs end to end (fetch, rows, local MiniLM embeddings, Qdrant Edge upserts) on a
throwaway SQLite database. Then the same shop is synced again unchanged (the content
hashes make it embed nothing), and once more with 1% of products changed and 1% removed.

`--quick`: 200 products, writes bench/results/catalogue_quick.json.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench.common import load_avg, log, machine_info, utc_now, write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 200 if args.quick else 2000
    tmp = Path(tempfile.mkdtemp(prefix="bench-catalogue-"))
    os.environ.update(
        DATA_DIR=str(tmp / "data"), CRAWL_ALLOW_PRIVATE_NETWORKS="1", SECRET_KEY="b" * 48
    )
    from app import db
    from app.db import session_scope
    from app.models import Catalogue
    from app.rag.embedding import LocalEmbedder
    from app.rag.store import EdgeStore
    from app.services import accounts, catalogues
    from app.services.catalogue_sync import CatalogueSyncRunner
    from tests.support.fake_shops import FakeShops, catalogue
    from tests.support.loopback_server import LoopbackServer

    url = f"sqlite:///{tmp / 'bench.db'}"
    engine = db.make_engine(url)
    db.run_migrations(url=url)
    db.set_engine(engine)
    store = EdgeStore(tmp / "qdrant")
    embedder = LocalEmbedder()
    embedder.get_text_embedding_batch(["warm up"])
    runner = CatalogueSyncRunner(engine, store, embedder)
    shops = FakeShops(products=catalogue(n))
    with LoopbackServer(shops.app()) as srv:
        with session_scope(engine) as s:
            _, tenant = accounts.sign_up(s, "bench@shop.io", "a-long-password", "Bench")
            cid = catalogues.create(
                s, tenant.id, "json", "Bench", {"url": f"{srv.url}/fakestore/products"}
            ).id
        runs = {}
        for label in ("first_sync", "unchanged_resync", "one_percent_changed"):
            if label != "first_sync":
                with session_scope(engine) as s:
                    catalogues.request_sync(s, tenant.id, cid)
            if label == "one_percent_changed":
                step = max(1, n // 100)
                products = [p for p in catalogue(n) if p["id"] % 100 != 1]  # 1% removed
                for p in products[::step][: n // 100]:
                    p["price"] = round(p["price"] + 1, 2)  # 1% changed
                shops.products = products
            started = time.perf_counter()
            runner.drain()
            seconds = time.perf_counter() - started
            with session_scope(engine) as s:
                cat = s.get(Catalogue, cid)
                assert cat is not None and cat.status == "ready", cat and cat.last_error
                runs[label] = {
                    "seconds": round(seconds, 3),
                    "products": cat.product_count,
                    "embedded": cat.last_embedded,
                    "removed": cat.last_removed,
                    "products_per_s": round(cat.product_count / seconds, 1),
                }
            log(f"{label}: {runs[label]}")
    store.close()
    result = {
        "when": utc_now(),
        "products": n,
        "runs": runs,
        "unchanged_resync_embedded": runs["unchanged_resync"]["embedded"],
        "load_avg": load_avg(),
        "machine": machine_info(),
    }
    path = write_json("catalogue_quick.json" if args.quick else "catalogue.json", result)
    print(path)


if __name__ == "__main__":
    main()
