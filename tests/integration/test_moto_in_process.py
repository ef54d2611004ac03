"""The local stack's own AWS calls reach its moto server without HTTP; other clients keep their
HTTP connections (local_stack.moto_patches.serve_in_process and the server's keep-alive)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local_stack import moto_patches


def test_calls_to_the_moto_server_of_this_process_skip_http(monkeypatch: pytest.MonkeyPatch) -> None:
    """``serve_in_process``: this process's clients reach moto without a socket (the server may even be
    gone); after ``stop_serving_in_process`` they use HTTP again, and keep-alive connections there."""
    import urllib3.util.connection
    from moto.server import ThreadedMotoServer

    moto_patches.install()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    connects: list[Any] = []
    original_connect = urllib3.util.connection.create_connection

    def counting_connect(*args: Any, **kwargs: Any) -> Any:
        connects.append(args[0])
        return original_connect(*args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", counting_connect)
    try:
        moto_patches.serve_in_process(endpoint, server._server.app)  # type: ignore[union-attr]
        client = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
        url = client.create_queue(QueueName="in-process")["QueueUrl"]
        client.send_message(QueueUrl=url, MessageBody="hello")
        (message,) = client.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
        assert message["Body"] == "hello"
        with pytest.raises(ClientError) as missing:
            client.get_queue_url(QueueName="no-such-queue")
        assert missing.value.response["Error"]["Code"] in ("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue")
        assert connects == []

        moto_patches.stop_serving_in_process(endpoint)
        over_http = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
        for _ in range(5):
            assert over_http.get_queue_url(QueueName="in-process")["QueueUrl"] == url
        assert len(connects) == 1  # one connection, kept for every call
    finally:
        moto_patches.stop_serving_in_process(endpoint)
        server.stop()
