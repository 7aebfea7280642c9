"""`Procedure.metadata`: the layout Plexus's storage adapter uses, and the values it points to.

| key | holds | writer |
|---|---|---|
| `checkpoints` | named checkpoints `{name: {name, result, completed_at, run_id?}}`, in save order | storage adapter |
| `state`, `lua_state` | the procedure's `State`, and Lua state | storage adapter |
| `replay_index` | int | storage adapter |
| `execution_log` | the runtime's execution log: `CheckpointEntry` JSON by position | storage adapter (ours) |
| `run` | the run a `PlexusRunner` executes: its id, procedure, params, result | runner (ours) |

Every other key (`attribution`, `runtime`, `code_s3_key`, `last_failure`, ...) belongs to
another writer: the adapters read, merge and write back, so those keys survive every write.

Plexus's own writer may store a value as a pointer, `{"_s3_key": "procedures/<id>/state.json"}`.
Pointers are read through a `BlobReader` (`S3BlobReader` for Plexus's bucket); without one, a
pointer is a clear error naming the key, never an empty value that a write would then keep.
Values are always written back inline.
"""  # noqa: E501

from __future__ import annotations

import json
from typing import Any, Protocol

from adapters.plexus.errors import PlexusConfigError, PlexusDataError

CHECKPOINTS = "checkpoints"
STATE = "state"
LUA_STATE = "lua_state"
REPLAY_INDEX = "replay_index"
EXECUTION_LOG = "execution_log"
RUN = "run"
POINTER = "_s3_key"


class BlobReader(Protocol):
    """Reads a JSON document Plexus stored outside the record (an S3 object)."""

    def read_json(self, key: str) -> Any: ...


class S3BlobReader:
    """Plexus's S3 bucket (`AMPLIFY_STORAGE_REPORTBLOCKDETAILS_BUCKET_NAME`), through botocore
    (the `plexus-iam` extra). The client is made on first use, from botocore's credentials."""

    def __init__(self, bucket: str, *, s3_client: Any = None) -> None:
        self.bucket = bucket
        self._s3 = s3_client

    def _client(self) -> Any:
        if self._s3 is None:
            try:
                from botocore.session import get_session
            except ImportError:
                raise PlexusConfigError(
                    "reading Plexus values stored in S3 needs botocore: install the plexus-iam "
                    "extra (pip install 'hitlbot[plexus-iam]')"
                ) from None
            self._s3 = get_session().create_client("s3")
        return self._s3

    def read_json(self, key: str) -> Any:
        client = self._client()
        try:
            body = client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except Exception as exc:  # botocore's errors: missing object, access denied, network
            raise PlexusDataError(
                f"cannot read s3://{self.bucket}/{key}: {type(exc).__name__}: {exc}"
            ) from None
        try:
            return json.loads(body)
        except ValueError:
            raise PlexusDataError(f"s3://{self.bucket}/{key} is not JSON") from None


def parse_metadata(raw: Any, procedure_id: str) -> dict[str, Any]:
    """The metadata of a Procedure record: AWSJSON arrives as a string (or, from some writers,
    already decoded); null is an empty mapping."""
    if raw is None or raw == "":
        return {}
    value = raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError:
            raise PlexusDataError(
                f"Procedure {procedure_id} has metadata that is not JSON; refusing to write over it"
            ) from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PlexusDataError(
            f"Procedure {procedure_id} has metadata that is a JSON {type(value).__name__}, "
            "not an object; refusing to write over it"
        )
    return value


def encode_metadata(metadata: dict[str, Any]) -> str:
    """AWSJSON is a JSON string in inputs too."""
    return json.dumps(metadata, separators=(",", ":"), ensure_ascii=False)


def pointer_key(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get(POINTER), str):
        return value[POINTER]
    return None


def resolved(
    metadata: dict[str, Any],
    key: str,
    default: Any,
    *,
    procedure_id: str,
    blobs: BlobReader | None,
) -> Any:
    """`metadata[key]` with an S3 pointer followed; `default` when absent or null."""
    value = metadata.get(key)
    if value is None:
        return default
    s3_key = pointer_key(value)
    if s3_key is None:
        return value
    if blobs is None:
        raise PlexusDataError(
            f"Procedure {procedure_id} keeps metadata.{key} in S3 ({s3_key}) and no S3 reader is "
            "configured; give the storage adapter one (S3BlobReader) to read it"
        )
    return blobs.read_json(s3_key)


def expect(value: Any, kind: type, key: str, procedure_id: str) -> Any:
    """Refuse a value of the wrong shape, naming where it is."""
    if not isinstance(value, kind):
        raise PlexusDataError(
            f"Procedure {procedure_id} metadata.{key} is a JSON {type(value).__name__}, "
            f"expected {'an object' if kind is dict else 'an array' if kind is list else kind}"
        )
    return value
