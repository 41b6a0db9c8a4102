"""The syncer-meta consumer on a real broker: labels.changed in micro-batches, the sandbox updated."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable

import pytest
import yaml
from sqlalchemy import select

from services.sandbox_meta.server import RunningSandbox
from services.syncer_meta import bootstrap
from services.syncer_meta.config import MetaSettings
from shared.bus.producer import Publisher
from shared.config import Settings
from shared.messages import LabelChanged
from shared.runtime import run_consumer_service
from shared.store.db import Store
from shared.store.models import DeadLetterRecord, SyncRun
from tests.integration.syncer_meta.conftest import AUDIENCES, settings_env
from tests.integration.syncer_meta.seed import Person, email_hash, erase, key_of, seed

pytestmark = pytest.mark.integration


def _eventually(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


def test_label_changes_flush_in_micro_batches_and_erasures_reach_the_platform(
    sandbox: RunningSandbox, store: Store, broker, new_topic, tmp_path
) -> None:
    config = tmp_path / "audiences.yaml"
    config.write_text(yaml.safe_dump({"audiences": AUDIENCES[:1]}))
    env = settings_env(sandbox.url, store.url, AUDIENCESYNC_CONFIG=str(config), META_FLUSH_SECONDS="0.5")
    settings = Settings.from_env({**env, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap})
    topic = new_topic("labels")
    service = dataclasses.replace(
        bootstrap.service(settings, MetaSettings.from_env(env)),
        topics=(topic,),
        name=f"syncer-meta-{uuid.uuid4().hex[:6]}",
    )
    seed(store, [Person(i) for i in range(8)])
    stop = threading.Event()
    thread = threading.Thread(
        target=run_consumer_service, args=(service, settings), kwargs={"stop": stop, "install_signals": False}
    )
    thread.start()
    try:
        with Publisher(broker.bootstrap) as publisher:
            for i in range(8):
                publisher.publish(topic, LabelChanged(key_of(i), "icp", value=50.0).to_envelope())
            publisher.publish_raw(topic, b"k", b"not an envelope")
            publisher.flush()

            def members() -> dict[str, float | None]:
                audiences = sandbox.state.audiences()
                return sandbox.state.members(audiences[0].id) if audiences else {}

            _eventually(lambda: set(members()) == {email_hash(i) for i in range(8)})
            erase(store, 3)
            publisher.publish(topic, LabelChanged(key_of(3), None, erased=True).to_envelope())
            publisher.flush()
            _eventually(lambda: email_hash(3) not in members())
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert len(members()) == 7
    with store.session() as session:
        runs = session.scalars(select(SyncRun).order_by(SyncRun.id)).all()
        letters = session.scalars(select(DeadLetterRecord)).all()
    assert {r.mode for r in runs} == {"incremental"}  # a run per micro-batch that changed something
    assert sum(r.added for r in runs) == 8 and runs[-1].removed == 1
    assert len(letters) == 1 and letters[0].consumer == service.name
