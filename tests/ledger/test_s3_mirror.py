"""`remote.mirror` on the loopback S3 server: a prefix's objects copied into a local folder, a copy
fetched again only when its object changed (judged by the ETag it was downloaded from, never by
hashing it against an ETag that may not be an MD5), and a copy removed once its object is gone."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from collector._records import Rejected
from collector._state import Quarantine
from ledger.storage import remote
from tests.support.s3 import S3, working_folder


def calls() -> Counter[str]:
    """Every S3 operation the process's client sends from now on, counted by name."""
    seen: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        seen[model.name] += 1

    remote.client().meta.events.register("before-call.s3", count)
    return seen


def kms_etags() -> None:
    """Make the client see what S3 answers for SSE-KMS objects: an ETag of 32 hex digits that is not
    the MD5 of the bytes (moto always answers the MD5). Still one ETag per object version."""

    def fake(etag: str) -> str:
        return '"' + hashlib.sha256(b"kms" + etag.encode()).hexdigest()[:32] + '"'

    def rewrite(parsed: dict[str, Any], **_: Any) -> None:
        for found in [parsed, *parsed.get("Contents", [])]:
            if "ETag" in found:
                found["ETag"] = fake(found["ETag"])

    events = remote.client().meta.events
    for operation in ("ListObjectsV2", "GetObject", "HeadObject"):
        events.register(f"after-call.s3.{operation}", rewrite)


def multipart(s3: S3, key: str, body: bytes) -> str:
    """Put `body` by a multipart upload (one part); the object's ETag (`<md5 of md5s>-1`)."""
    s3c = remote.client()
    upload = s3c.create_multipart_upload(Bucket=s3.bucket, Key=key)["UploadId"]
    part = s3c.upload_part(Bucket=s3.bucket, Key=key, UploadId=upload, PartNumber=1, Body=body)
    parts = {"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]}
    done = s3c.complete_multipart_upload(Bucket=s3.bucket, Key=key, UploadId=upload, MultipartUpload=parts)
    return str(done["ETag"])


def files(folder: Path) -> dict[str, bytes]:
    """The folder's visible files (relative path -> bytes); the mirror's own hidden files left out."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }


def test_a_copy_whose_object_was_deleted_is_removed_at_the_next_mirror(s3, tmp_path):
    url, folder = s3.url() + "/quarantine", tmp_path / "copy"
    for name in ("sim/a.jsonl", "sim/b.jsonl", "other/c.jsonl"):
        remote.put(f"{url}/{name}", name.encode())
    (folder / "sim").mkdir(parents=True)
    (folder / "sim" / "mine.jsonl").write_bytes(b"written here, never an object")
    assert [p.name for p in remote.mirror(url, folder)] == ["c.jsonl", "a.jsonl", "b.jsonl"]
    remote.client().delete_object(Bucket=s3.bucket, Key="monitor/quarantine/sim/a.jsonl")
    remote.client().delete_object(Bucket=s3.bucket, Key="monitor/quarantine/other/c.jsonl")
    assert [p.name for p in remote.mirror(url, folder)] == ["b.jsonl"]
    assert files(folder) == {"sim/b.jsonl": b"sim/b.jsonl", "sim/mine.jsonl": b"written here, never an object"}


def test_a_quarantine_file_another_host_removed_leaves_this_hosts_count(s3, tmp_path):
    host_a = Quarantine(working_folder(s3, tmp_path, "host-a"))
    host_b = Quarantine(working_folder(s3, tmp_path, "host-b"))
    host_a.put("sim", "m.1.0", [Rejected("id: missing", {"n": 1})])
    host_b.put("sim", "m.2.0", [Rejected("id: missing", {"n": 2}), Rejected("id: missing", {"n": 3})])
    assert host_b.count() == host_a.count() == 3
    for key in s3.keys("monitor/quarantine/"):  # an operator cleared the quarantine once it was replayed
        remote.client().delete_object(Bucket=s3.bucket, Key=key)
    assert host_a.count() == host_b.count() == 0  # each host's own file too: it was a copy of the object


def test_a_copy_changed_here_since_the_mirror_wrote_it_is_never_deleted(s3, tmp_path):
    url, folder = s3.url() + "/billing", tmp_path / "copy"
    remote.put(f"{url}/sim/spend-limit.json", b'{"used": 1}')
    remote.mirror(url, folder)
    (folder / "sim" / "spend-limit.json").write_bytes(b'{"used": 2, "written": "here"}')
    remote.client().delete_object(Bucket=s3.bucket, Key="monitor/billing/sim/spend-limit.json")
    assert remote.mirror(url, folder) == []
    assert files(folder) == {"sim/spend-limit.json": b'{"used": 2, "written": "here"}'}


def test_an_object_whose_etag_is_not_its_md5_is_downloaded_once(s3, tmp_path):
    """SSE-KMS: the ETag is 32 hex digits but not the MD5; hashing the copy never matched it."""
    url, folder = s3.url() + "/fx", tmp_path / "copy"
    remote.put(f"{url}/rates.csv", b"EUR,USD,1.05\n")
    kms_etags()
    seen = calls()
    remote.mirror(url, folder)
    remote.mirror(url, folder)
    remote.mirror(url, folder)
    assert (seen["GetObject"], seen["ListObjectsV2"]) == (1, 3)
    remote.put(f"{url}/rates.csv", b"EUR,USD,1.07\n")  # the same size, likely the same second
    remote.mirror(url, folder)
    assert seen["GetObject"] == 2 and (folder / "rates.csv").read_bytes() == b"EUR,USD,1.07\n"


def test_a_multipart_object_is_downloaded_once_and_again_when_rewritten(s3, tmp_path):
    url, folder = s3.url() + "/billing", tmp_path / "copy"
    etag = multipart(s3, "monitor/billing/sim/prices/2026-05.parquet", b"x" * 1000)
    assert etag.strip('"').endswith("-1")
    seen = calls()
    remote.mirror(url, folder)
    remote.mirror(url, folder)
    assert seen["GetObject"] == 1
    multipart(s3, "monitor/billing/sim/prices/2026-05.parquet", b"y" * 1000)
    head = remote.client().head_object(Bucket=s3.bucket, Key="monitor/billing/sim/prices/2026-05.parquet")
    stamp = head["LastModified"].timestamp()
    os.utime(folder / "sim/prices/2026-05.parquet", (stamp, stamp))  # as when both uploads fall in one second
    remote.mirror(url, folder)
    assert seen["GetObject"] == 2 and files(folder) == {"sim/prices/2026-05.parquet": b"y" * 1000}
    remote.mirror(url, folder)
    assert seen["GetObject"] == 2


def test_copies_made_before_the_side_file_existed_are_adopted_without_a_download(s3, tmp_path):
    url, folder = s3.url() + "/quarantine", tmp_path / "copy"
    remote.put(f"{url}/sim/a.jsonl", b"a\n")
    remote.put(f"{url}/sim/b.jsonl", b"b\n")
    remote.mirror(url, folder)
    for hidden in folder.glob(".*"):
        if hidden.is_file():
            hidden.unlink()  # as a working folder a former version filled
    seen = calls()
    remote.mirror(url, folder)
    assert seen["GetObject"] == 0  # the copies' MD5 is the single-part ETag: adopted as they are
    remote.client().delete_object(Bucket=s3.bucket, Key="monitor/quarantine/sim/a.jsonl")
    remote.mirror(url, folder)
    assert files(folder) == {"sim/b.jsonl": b"b\n"} and seen["GetObject"] == 0


def test_a_copy_whose_side_file_entry_is_gone_is_checked_against_its_object(s3, tmp_path):
    url, folder = s3.url() + "/fx", tmp_path / "copy"
    remote.put(f"{url}/rates.csv", b"EUR,USD,1.05\n")
    remote.mirror(url, folder)
    for hidden in folder.glob(".*"):
        if hidden.is_file():
            hidden.write_bytes(b"{not json")  # a torn or foreign side file reads as none
    remote.put(f"{url}/rates.csv", b"EUR,USD,1.07\n")
    os.utime(folder / "rates.csv", (0, 0))
    remote.mirror(url, folder)
    assert (folder / "rates.csv").read_bytes() == b"EUR,USD,1.07\n"


def test_an_object_deleted_between_the_listing_and_its_download_is_skipped(s3, tmp_path):
    url, folder = s3.url() + "/snapshots/sim", tmp_path / "copy"
    remote.put(f"{url}/2026-10-02/usage-093005.json", b"{}")
    remote.put(f"{url}/2026-10-02/usage-093006.json", b"{}")

    def delete_first(params: dict[str, Any], **_: Any) -> None:
        if params["Key"].endswith("093005.json"):  # another host's cleanup, just after our LIST
            remote.client().delete_object(Bucket=s3.bucket, Key=params["Key"])

    remote.client().meta.events.register("before-parameter-build.s3.GetObject", delete_first)
    assert [p.name for p in remote.mirror(url, folder)] == ["usage-093006.json"]
    assert files(folder) == {"2026-10-02/usage-093006.json": b"{}"}


def test_mirrors_of_one_folder_at_once_download_each_object_once(s3, tmp_path):
    """Threads of a dashboard (or a collector beside it) mirroring one folder take turns: the side
    file is never written from two downloads, and the later mirrors find the copies current."""
    url, folder = s3.url() + "/billing", tmp_path / "copy"
    for n in range(5):
        remote.put(f"{url}/sim/prices/2026-0{n + 1}.parquet", b"sheet %d" % n)
    kms_etags()
    seen = calls()
    with ThreadPoolExecutor(4) as pool:
        listed = list(pool.map(lambda _: remote.mirror(url, folder), range(4)))
    assert seen["GetObject"] == 5 and all(paths == listed[0] for paths in listed) and len(listed[0]) == 5
    remote.mirror(url, folder)
    assert seen["GetObject"] == 5
